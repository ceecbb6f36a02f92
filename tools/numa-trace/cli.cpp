#include "cli.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace numatrace::cli {

void print_error(const Error& e) {
  std::fprintf(stderr, "numa-trace: %s\n", printable(e.str()).c_str());
}

int unusable(const Error& e) {
  print_error(e);
  return kUsage;
}

int checked(const Error& e) {
  print_error(e);
  return e.kind == ErrorKind::io ? kUsage : kProblems;
}

std::string human_bytes(uint64_t v) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double d = static_cast<double>(v);
  int u = 0;
  while (d >= 1024 && u < 5) {
    d /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(v));
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", d, units[u]);
  return buf;
}

std::string local_time(uint64_t usec) {
  if (!usec) return "-";
  const time_t secs = static_cast<time_t>(usec / 1000000u);
  tm t{};
  localtime_r(&secs, &t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%F %T", &t);
  return buf;
}

std::string joined(const std::set<std::string>& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "" : ",") + v;
  return out.empty() ? "-" : out;
}

std::string printable(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

Progress::Progress(std::string what) : what_(std::move(what)), tty_(::isatty(STDERR_FILENO) == 1) {}

void Progress::update(uint64_t done, uint64_t total) {
  if (!tty_ || total == 0) return;
  int pct = static_cast<int>(done * 100 / total);
  if (pct == last_percent_) return;
  last_percent_ = pct;
  std::fprintf(stderr, "\r%s: %3d%% (%s of %s)", what_.c_str(), pct, human_bytes(done).c_str(),
               human_bytes(total).c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (tty_ && last_percent_ >= 0) std::fprintf(stderr, "\r\033[K");
}

}  // namespace numatrace::cli
