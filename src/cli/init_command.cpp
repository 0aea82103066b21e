#include "cli/init_command.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <system_error>

#include "cli/templates.hpp"

namespace lp::cli {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPrefix = "init/";

Error io_error(const fs::path& path, int err) {
  return make_error(ErrorCode::Io, "cannot write " + path.string() + ": " + std::strerror(err),
                    "pick a directory you can write to: loadpilot init DIR");
}

/// 0 written, EEXIST when the file was there, another errno on failure.
int create_exclusive(const fs::path& path, std::string_view content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return err;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return ::close(fd) == 0 ? 0 : errno;
}

}  // namespace

Result<InitResult> init_project(const fs::path& dir) {
  InitResult result;
  for (std::size_t i = 0; i < kTemplateCount; ++i) {
    const Template& t = kTemplates[i];
    if (!t.path.starts_with(kPrefix)) continue;
    const std::string relative(t.path.substr(kPrefix.size()));
    const fs::path path = dir / relative;
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) return io_error(path.parent_path(), ec.value());
    const int err = create_exclusive(path, t.content);
    if (err == EEXIST) {
      result.skipped.push_back(relative);
    } else if (err != 0) {
      return io_error(path, err);
    } else {
      result.created.push_back(relative);
    }
  }
  return result;
}

int init_command(const std::string& dir, std::FILE* out, std::FILE* err) {
  const fs::path root = dir.empty() ? fs::path(".") : fs::path(dir);
  auto result = init_project(root);
  if (!result) {
    std::fprintf(err, "error: %s\n", result.error().message.c_str());
    if (!result.error().hint.empty()) std::fprintf(err, "hint: %s\n", result.error().hint.c_str());
    return 2;
  }
  const std::string shown = root.string();
  std::fprintf(out, "loadpilot init %s\n", shown.c_str());
  for (const auto& f : result->created) std::fprintf(out, "  created  %s\n", f.c_str());
  for (const auto& f : result->skipped) std::fprintf(out, "  skipped  %s (already exists, left as it is)\n", f.c_str());
  const std::string prefix = shown == "." ? "" : shown + "/";
  std::fprintf(out,
               "\nNext:\n"
               "  loadpilot-target --port 8000 &                       # the demo target the example runs against\n"
               "  loadpilot run %sscenarios/example.py --target http://localhost:8000 --report report.html\n"
               "  cp %s.env.example %s.env && docker compose --env-file %s.env -f %smonitoring/docker-compose.yml up -d\n"
               "                                                       # Prometheus :9091 and Grafana :3000, scraping :9090\n",
               prefix.c_str(), prefix.c_str(), prefix.c_str(), prefix.c_str(), prefix.c_str());
  std::fflush(out);
  return 0;
}

}  // namespace lp::cli
