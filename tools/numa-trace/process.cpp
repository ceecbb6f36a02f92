#include "process.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#ifndef NUMA_TRACE_INSTALL_LIBDIR
#error "NUMA_TRACE_INSTALL_LIBDIR must be defined by the build"
#endif

namespace numatrace::cli {

std::string self_dir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = 0;
  return std::filesystem::path(buf).parent_path().string();
}

namespace {
std::string first_readable(const char* env, const std::vector<std::string>& candidates) {
  if (const char* e = std::getenv(env); e && *e) return e;
  for (const auto& c : candidates)
    if (access(c.c_str(), R_OK) == 0) return std::filesystem::weakly_canonical(c).string();
  return {};
}
}  // namespace

std::string find_library(bool preload) {
  const std::string name = preload ? "libnumatrace-preload.so" : "libnumatrace.so";
  return first_readable(preload ? "NUMA_TRACE_PRELOAD" : "NUMA_TRACE_LIBRARY",
                        {self_dir() + "/../lib/" + name, std::string(NUMA_TRACE_INSTALL_LIBDIR) + "/" + name + ".0",
                         std::string(NUMA_TRACE_INSTALL_LIBDIR) + "/" + name});
}

std::string find_loader() {
  return first_readable("NUMA_TRACE_LOADER", {self_dir() + "/numa-trace-loader"});
}

Captured run_captured(const std::vector<std::string>& argv, const std::vector<std::string>& env, const std::string& cwd,
                      unsigned timeout_s) {
  Captured c;
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    c.status = -1;
    c.err = std::string("pipe: ") + std::strerror(errno);
    return c;
  }
  pid_t pid = fork();
  if (pid < 0) {
    c.status = -1;
    c.err = std::string("fork: ") + std::strerror(errno);
    return c;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);  // gone with whoever waits for it (a timed-out sandbox)
    dup2(out[1], 1);
    dup2(err[1], 2);
    if (chdir(cwd.c_str()) != 0) _exit(127);
    rlimit core{};
    getrlimit(RLIMIT_CORE, &core);
    core.rlim_cur = core.rlim_max;
    setrlimit(RLIMIT_CORE, &core);
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  // Both pipes at once, so that neither can fill up and stall the child.
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&c.out, &c.err};
  int open_fds = 2;
  timespec start{};
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (open_fds > 0) {
    int wait_ms = -1;
    if (timeout_s) {
      timespec now{};
      clock_gettime(CLOCK_MONOTONIC, &now);
      const long long spent = (now.tv_sec - start.tv_sec) * 1000LL + (now.tv_nsec - start.tv_nsec) / 1000000;
      if (spent >= timeout_s * 1000LL) {
        c.timed_out = true;
        kill(pid, SIGKILL);
        break;
      }
      wait_ms = static_cast<int>(timeout_s * 1000LL - spent);
    }
    int ready = poll(fds, 2, wait_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (ready == 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) close(f.fd);
  waitpid(pid, &c.status, 0);
  return c;
}

}  // namespace numatrace::cli
