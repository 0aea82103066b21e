#pragma once
// Bytes queued for one client's socket. The loop appends every MSG and control line
// here and writes them out once per event-loop round, so one send() carries many
// messages. The bound (slow consumer) is the loop's to enforce: see pending().

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lp::broker {

class OutBuffer {
 public:
  enum class FlushStatus : std::uint8_t {
    Done,     ///< everything written
    Partial,  ///< the socket is full: wait for it to become writable
    Failed,   ///< the socket is broken: close the client
  };

  /// Bytes queued and not yet taken by the kernel.
  std::size_t pending() const noexcept { return data_.size() - head_; }

  void append(std::string_view bytes) { data_.append(bytes.data(), bytes.size()); }

  /// Writes as much as the non-blocking socket `fd` takes, never waiting. `written`
  /// receives the bytes sent by this call.
  FlushStatus flush(int fd, std::size_t& written) noexcept;

  /// Gives back memory after a burst: once empty, capacity above `keep` bytes is freed.
  void trim(std::size_t keep);

 private:
  std::string data_;      // queued bytes; data_[head_..] still to send
  std::size_t head_ = 0;  // bytes at the front already sent
};

}  // namespace lp::broker
