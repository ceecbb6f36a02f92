#include "sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cli.h"
#include "numatrace/postmortem/codes.h"
#include "process.h"

namespace numatrace::cli {

namespace {

// In a sanitized build of numa-trace the sanitizer's own handler catches a
// crash of the decoder, reports it and exits with status 1, which would
// read as postmortem's "a crash or findings". Its death callback ends the
// child with this status instead, which the parent reports as PM010.
// Weak: null in ordinary builds.
constexpr int kSanitizerDeath = 99;
extern "C" void __sanitizer_set_death_callback(void (*)(void)) __attribute__((weak));

void set_limit(int resource, uint64_t v) {
  rlimit rl{};
  if (getrlimit(resource, &rl) != 0) return;
  // Only ever lowered: a hard limit already below stays.
  rlim_t want = static_cast<rlim_t>(v);
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) want = rl.rlim_max;
  rl.rlim_cur = want;
  if (resource == RLIMIT_CORE) rl.rlim_max = want;
  setrlimit(resource, &rl);
}

[[noreturn]] void child(int out_fd, int err_fd, const SandboxLimits& limits, const std::function<int()>& body) {
  if (dup2(out_fd, STDOUT_FILENO) < 0) _exit(kUsage);
  if (err_fd >= 0 && dup2(err_fd, STDERR_FILENO) < 0) _exit(kUsage);
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd >= 0) {
    dup2(null_fd, STDIN_FILENO);
    if (null_fd != STDIN_FILENO) close(null_fd);
  }
  // A closed set of descriptors: only 0, 1 and 2 reach the decoder.
  close_range(3, ~0u, 0);
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  set_limit(RLIMIT_CORE, 0);  // its own crash must not write a core over the user's
  if (limits.cpu_seconds) set_limit(RLIMIT_CPU, limits.cpu_seconds);
    // Not under a sanitizer: its shadow memory already counts as data, and
    // any limit would make the runtime's own allocations fail.
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  if (limits.data_bytes) set_limit(RLIMIT_DATA, limits.data_bytes);
#endif
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback([] { _exit(kSanitizerDeath); });
  int rc = kUsage;
  try {
    rc = body();
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "numa-trace: out of memory decoding (limit %llu MiB of data)\n",
                 static_cast<unsigned long long>(limits.data_bytes >> 20));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "numa-trace: internal error: %s\n", e.what());
  }
  std::fflush(stdout);
  std::fflush(stderr);
  _exit(rc);
}

// printf into a string.
__attribute__((format(printf, 1, 2))) std::string text_of(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

}  // namespace

int run_sandboxed_into(const std::string& what, const SandboxLimits& limits, const std::function<int()>& body,
                       std::string& out, std::string* err) {
  auto say = [&](const std::string& line) {
    if (err)
      *err += line;
    else
      std::fputs(line.c_str(), stderr);
  };
  std::fflush(stdout);
  std::fflush(stderr);
  const std::string w = printable(what);
  int p[2], e[2] = {-1, -1};
  if (pipe2(p, O_CLOEXEC) != 0 || (err && pipe2(e, O_CLOEXEC) != 0)) {
    say(text_of("numa-trace: %s: %s pipe: %s\n", w.c_str(), postmortem::code::decoder_start, std::strerror(errno)));
    return kUsage;
  }
  pid_t pid = fork();
  if (pid < 0) {
    say(text_of("numa-trace: %s: %s fork: %s\n", w.c_str(), postmortem::code::decoder_start, std::strerror(errno)));
    for (int fd : {p[0], p[1], e[0], e[1]})
      if (fd >= 0) close(fd);
    return kUsage;
  }
  if (pid == 0) {
    child(p[1], e[1], limits, body);
  }
  close(p[1]);
  if (e[1] >= 0) close(e[1]);
  const uint64_t deadline = limits.wall_seconds ? monotonic_ms() + uint64_t{limits.wall_seconds} * 1000 : 0;
  bool timed_out = false;
  pollfd pf[2] = {{p[0], POLLIN, 0}, {e[0], POLLIN, 0}};  // a negative fd is left out by poll
  while (pf[0].fd >= 0 || pf[1].fd >= 0) {
    int wait_ms = -1;
    if (deadline) {
      const uint64_t t = monotonic_ms();
      if (t >= deadline) {
        timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(deadline - t);
    }
    int n = poll(pf, 2, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (pf[i].fd < 0 || !pf[i].revents) continue;
      char buf[65536];
      ssize_t r = read(pf[i].fd, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        close(pf[i].fd);
        pf[i].fd = -1;
        continue;
      }
      if (std::string* to = i == 0 ? &out : err) to->append(buf, static_cast<size_t>(r));
    }
  }
  for (const pollfd& f : pf)
    if (f.fd >= 0) close(f.fd);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const bool normal_exit = WIFEXITED(status) && WEXITSTATUS(status) <= kUsage;  // postmortem's 0, 1, 2
  if (!timed_out && normal_exit) return WEXITSTATUS(status);
  out.clear();  // no half document
  if (timed_out) {
    say(
        text_of("numa-trace: %s: %s decoding took longer than %u s and was stopped (a path named in the core "
                "that blocks when opened, or a core too large for the limit: --timeout)\n",
                w.c_str(), postmortem::code::decoder_stopped, limits.wall_seconds));
  } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU) {
    say(text_of("numa-trace: %s: %s decoding used more than %u s of CPU time and was stopped\n", w.c_str(),
                postmortem::code::decoder_stopped, limits.cpu_seconds));
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == kSanitizerDeath) {
    say(
        text_of("numa-trace: %s: %s the decoder was stopped by the sanitizer's report above, reading this "
                "input (please report it, with the input)\n",
                w.c_str(), postmortem::code::decoder_died));
  } else if (WIFSIGNALED(status)) {
    const char* a = sigabbrev_np(WTERMSIG(status));
    say(
        text_of("numa-trace: %s: %s the decoder died of SIG%s reading this input: it is damaged in a way "
                "numa-trace does not handle (please report it, with the input)\n",
                w.c_str(), postmortem::code::decoder_died, a ? a : "?"));
  } else {
    say(text_of("numa-trace: %s: %s the decoder ended abnormally (exit status %d)\n", w.c_str(),
                postmortem::code::decoder_died, WIFEXITED(status) ? WEXITSTATUS(status) : status));
  }
  return kUsage;
}

int run_sandboxed(const std::string& what, const SandboxLimits& limits, const std::function<int()>& body) {
  const char* off = std::getenv("NUMA_TRACE_NO_SANDBOX");
  if (off && std::strcmp(off, "1") == 0) return body();
  std::string out;
  const int rc = run_sandboxed_into(what, limits, body, out, nullptr);
  if (!out.empty()) {
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
  }
  return rc;
}

}  // namespace numatrace::cli
