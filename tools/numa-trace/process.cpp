#include "process.h"

#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#if !defined(NUMA_TRACE_LIB_REL) || !defined(NUMA_TRACE_HELPER_REL)
#error "NUMA_TRACE_LIB_REL and NUMA_TRACE_HELPER_REL must be defined by the build"
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

// Installed, each is found relative to the command (<bindir>/LIB_REL,
// <bindir>/HELPER_REL: the install can be moved); in the build tree, in
// ../lib and beside it.
std::string find_library(bool preload) {
  const std::string name = preload ? "libnumatrace-preload.so" : "libnumatrace.so";
  // (the interposer in numa-trace's own folder of the libdir: it is
  // preloaded, never linked)
  const std::string installed = self_dir() + "/" NUMA_TRACE_LIB_REL + (preload ? "/numa-trace/" : "/") + name;
  return first_readable(preload ? "NUMA_TRACE_PRELOAD" : "NUMA_TRACE_LIBRARY",
                        {installed + ".0", installed, self_dir() + "/../lib/" + name});
}

std::string find_loader() {
  return first_readable("NUMA_TRACE_LOADER", {self_dir() + "/" NUMA_TRACE_HELPER_REL "/numa-trace-loader",
                                              self_dir() + "/numa-trace-loader"});
}

uint64_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

std::string which(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? name : std::string();
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  for (size_t at = 0; at <= dirs.size();) {
    size_t end = dirs.find(':', at);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = (end == at ? std::string(".") : dirs.substr(at, end - at)) + "/" + name;
    struct stat st {};
    if (access(candidate.c_str(), X_OK) == 0 && stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode))
      return candidate;
    at = end + 1;
  }
  return std::string();
}

std::string secure_exec_reason(const std::string& program_path) {
  struct stat st {};
  if (program_path.empty() || stat(program_path.c_str(), &st) != 0) return std::string();
  if ((st.st_mode & S_ISUID) && st.st_uid != geteuid()) return "setuid";
  if ((st.st_mode & S_ISGID) && st.st_gid != getegid()) return "setgid";
  if (getxattr(program_path.c_str(), "security.capability", nullptr, 0) > 0) return "has file capabilities";
  return std::string();
}

std::string first_runtime_of(const std::string& program_path) {
  int fd = open(program_path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::string();
  std::vector<std::string> needed;
  auto at = [&](uint64_t off, void* out, size_t n) { return pread(fd, out, n, static_cast<off_t>(off)) == ssize_t(n); };
  Elf64_Ehdr eh{};
  if (at(0, &eh, sizeof eh) && std::memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
      eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum < 256) {
    std::vector<Elf64_Phdr> ph(eh.e_phnum);
    bool ok = at(eh.e_phoff, ph.data(), ph.size() * sizeof(Elf64_Phdr));
    // A virtual address to its file offset, through the PT_LOAD holding it.
    auto file_offset = [&](uint64_t vaddr, uint64_t& off) {
      for (const auto& p : ph)
        if (p.p_type == PT_LOAD && vaddr >= p.p_vaddr && vaddr - p.p_vaddr < p.p_filesz) {
          off = p.p_offset + (vaddr - p.p_vaddr);
          return true;
        }
      return false;
    };
    for (const auto& p : ph) {
      if (!ok || p.p_type != PT_DYNAMIC || p.p_filesz > (1u << 20)) continue;
      std::vector<Elf64_Dyn> dyn(p.p_filesz / sizeof(Elf64_Dyn));
      if (!at(p.p_offset, dyn.data(), dyn.size() * sizeof(Elf64_Dyn))) break;
      uint64_t strtab = 0, str_off = 0;
      for (const auto& d : dyn)
        if (d.d_tag == DT_STRTAB) strtab = d.d_un.d_ptr;
      if (!strtab || !file_offset(strtab, str_off)) break;
      for (const auto& d : dyn) {
        if (d.d_tag != DT_NEEDED) continue;
        char name[256] = {};
        if (at(str_off + d.d_un.d_val, name, sizeof name - 1)) needed.emplace_back(name);
      }
    }
  }
  close(fd);
  for (const auto& n : needed) {
    if (n.rfind("libasan.so", 0) != 0) continue;
    for (const char* dir : {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
                            "/usr/local/lib", "/lib", "/usr/lib"}) {
      std::string p = std::string(dir) + "/" + n;
      if (access(p.c_str(), R_OK) == 0) return p;
    }
  }
  return std::string();
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
  const uint64_t deadline = timeout_s ? monotonic_ms() + uint64_t{timeout_s} * 1000 : 0;
  while (open_fds > 0) {
    int wait_ms = -1;
    if (deadline) {
      const uint64_t now = monotonic_ms();
      if (now >= deadline) {
        c.timed_out = true;
        kill(pid, SIGKILL);
        break;
      }
      wait_ms = static_cast<int>(deadline - now);
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
