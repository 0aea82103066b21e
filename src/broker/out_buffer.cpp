#include "broker/out_buffer.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace lp::broker {
namespace {

// Sent bytes at the front are moved out once they are this many and at least half of
// the buffer, so a consumer that keeps up never pays for a memmove per round.
constexpr std::size_t kCompactAfter = 64 * 1024;

}  // namespace

OutBuffer::FlushStatus OutBuffer::flush(int fd, std::size_t& written) noexcept {
  written = 0;
  while (pending() > 0) {
    const ssize_t n = ::send(fd, data_.data() + head_, pending(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      head_ += static_cast<std::size_t>(n);
      written += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return FlushStatus::Failed;
  }
  if (head_ == data_.size()) {
    data_.clear();
    head_ = 0;
    return FlushStatus::Done;
  }
  if (head_ >= kCompactAfter && head_ * 2 >= data_.size()) {
    data_.erase(0, head_);
    head_ = 0;
  }
  return FlushStatus::Partial;
}

void OutBuffer::trim(std::size_t keep) {
  if (pending() == 0 && data_.capacity() > keep) {
    std::string().swap(data_);
    head_ = 0;
  }
}

}  // namespace lp::broker
