#include "sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
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

[[noreturn]] void child(int out_fd, const SandboxLimits& limits, const std::function<int()>& body) {
  if (dup2(out_fd, STDOUT_FILENO) < 0) _exit(kUsage);
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

}  // namespace

int run_sandboxed(const std::string& what, const SandboxLimits& limits, const std::function<int()>& body) {
  const char* off = std::getenv("NUMA_TRACE_NO_SANDBOX");
  if (off && std::strcmp(off, "1") == 0) return body();
  std::fflush(stdout);
  std::fflush(stderr);
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    std::fprintf(stderr, "numa-trace: %s: %s pipe: %s\n", printable(what).c_str(), postmortem::code::decoder_start,
                 std::strerror(errno));
    return kUsage;
  }
  pid_t pid = fork();
  if (pid < 0) {
    std::fprintf(stderr, "numa-trace: %s: %s fork: %s\n", printable(what).c_str(), postmortem::code::decoder_start,
                 std::strerror(errno));
    close(p[0]);
    close(p[1]);
    return kUsage;
  }
  if (pid == 0) {
    close(p[0]);
    child(p[1], limits, body);
  }
  close(p[1]);
  std::string out;
  const uint64_t deadline = limits.wall_seconds ? monotonic_ms() + uint64_t{limits.wall_seconds} * 1000 : 0;
  bool timed_out = false;
  for (;;) {
    int wait_ms = -1;
    if (deadline) {
      const uint64_t t = monotonic_ms();
      if (t >= deadline) {
        timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(deadline - t);
    }
    pollfd pf{p[0], POLLIN, 0};
    int n = poll(&pf, 1, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    if (n == 0) continue;  // the deadline is checked above
    char buf[65536];
    ssize_t r = read(p[0], buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  close(p[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const bool normal_exit = WIFEXITED(status) && WEXITSTATUS(status) <= kUsage;  // postmortem's 0, 1, 2
  if (!timed_out && normal_exit) {
    if (!out.empty()) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      std::fflush(stdout);
    }
    return WEXITSTATUS(status);
  }
  const std::string w = printable(what);
  if (timed_out) {
    std::fprintf(stderr,
                 "numa-trace: %s: %s decoding took longer than %u s and was stopped (a path named in the core "
                 "that blocks when opened, or a core too large for the limit: --timeout)\n",
                 w.c_str(), postmortem::code::decoder_stopped, limits.wall_seconds);
  } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU) {
    std::fprintf(stderr, "numa-trace: %s: %s decoding used more than %u s of CPU time and was stopped\n", w.c_str(),
                 postmortem::code::decoder_stopped, limits.cpu_seconds);
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == kSanitizerDeath) {
    std::fprintf(stderr,
                 "numa-trace: %s: %s the decoder was stopped by the sanitizer's report above, reading this "
                 "input (please report it, with the input)\n",
                 w.c_str(), postmortem::code::decoder_died);
  } else if (WIFSIGNALED(status)) {
    const char* a = sigabbrev_np(WTERMSIG(status));
    std::fprintf(stderr,
                 "numa-trace: %s: %s the decoder died of SIG%s reading this input: it is damaged in a way "
                 "numa-trace does not handle (please report it, with the input)\n",
                 w.c_str(), postmortem::code::decoder_died, a ? a : "?");
  } else {
    std::fprintf(stderr, "numa-trace: %s: %s the decoder ended abnormally (exit status %d)\n", w.c_str(),
                 postmortem::code::decoder_died, WIFEXITED(status) ? WEXITSTATUS(status) : status);
  }
  return kUsage;
}

}  // namespace numatrace::cli
