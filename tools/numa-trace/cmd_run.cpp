// numa-trace run [options] -- PROGRAM ARGS...: runs a loader with
// libnumatrace preloaded (and, for programs without the hooks, the preload
// interposer), configured through NUMA_TRACE; forwards signals; exits with
// the program's status.
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>

#include "cli.h"
#include "numatrace/postmortem/postmortem.h"
#include "numatrace/trace/reader.h"
#include "process.h"

namespace numatrace::cli {

namespace {

struct RunOptions {
  std::vector<std::string> command;
  std::string output = "numa-trace-%p.nttrace";
  bool no_output = false;
  std::string jsonl;
  bool stderr_events = false, stderr_all = false;
  bool strict = false, keep_dump = false, no_verify = false, quiet = false;
  bool hooks_only = false, report = false, progress = true, journal = false;
  int remote_threshold = -1;  // NT015's, percent; -1: the recorder's default
};

volatile sig_atomic_t g_child = 0;

// A signal a process sent to numa-trace (kill, systemctl stop, timeout) is
// passed on; one the kernel sent (the terminal's ^C, ^\\, hangup) already
// reached the program, in numa-trace's process group, and is not sent
// twice (llama-server takes a second SIGINT as "force quit").
void forward(int sig, siginfo_t* info, void*) {
  if (g_child > 0 && info && info->si_code <= 0) kill(g_child, sig);
}

// Every "%p" in `path` replaced by `pid` (the recorder does the same in the
// program).
std::string expand_pid(std::string path, pid_t pid) {
  for (size_t at = path.find("%p"); at != std::string::npos; at = path.find("%p", at))
    path.replace(at, 2, std::to_string(pid));
  return path;
}

// What the child of spawn() needs and answers (see run_program()).
struct SpawnContext {
  const char* program = nullptr;
  char** argv = nullptr;
  char** envp = nullptr;
  const char* outputs[2] = {nullptr, nullptr};  // trace paths, "%p" for the pid; null: none
  const int* forwarded = nullptr;
  size_t n_forwarded = 0;
  const struct sigaction* before = nullptr;  // the dispositions to give back, by forwarded[]
  sigset_t mask;                             // the signal mask to give back
  // Answers: refused >= 0 names the output that stopped the start (it
  // exists, or its folder is not writable: error); error is errno of a
  // failed exec or clone.
  int refused = -1;
  bool refused_exists = false;
  int error = 0;
};

// outputs[i] with "%p" replaced by `pid`, into buf; false when too long.
bool expand_into(const char* path, pid_t pid, char* buf, size_t size) {
  char digits[16];
  int n = 0;
  for (unsigned v = static_cast<unsigned>(pid); n == 0 || v; v /= 10) digits[n++] = static_cast<char>('0' + v % 10);
  size_t at = 0;
  for (const char* p = path; *p; ++p) {
    if (p[0] == '%' && p[1] == 'p') {
      for (int i = n; i-- > 0;) {
        if (at + 1 >= size) return false;
        buf[at++] = digits[i];
      }
      ++p;
    } else {
      if (at + 1 >= size) return false;
      buf[at++] = *p;
    }
  }
  buf[at] = 0;
  return true;
}

int spawn_child(void* arg) {
  auto& c = *static_cast<SpawnContext*>(arg);
  const pid_t self = static_cast<pid_t>(syscall(SYS_getpid));
  for (int i = 0; i < 2; ++i) {
    if (!c.outputs[i]) continue;
    char path[PATH_MAX];
    if (!expand_into(c.outputs[i], self, path, sizeof path)) {
      c.refused = i;
      c.error = ENAMETOOLONG;
      _exit(2);
    }
    struct stat st {};
    if (lstat(path, &st) == 0) {
      c.refused = i;
      c.refused_exists = true;
      _exit(2);
    }
    char* slash = std::strrchr(path, '/');
    if (slash == path)
      slash[1] = 0;  // "/name": the root folder
    else if (slash)
      *slash = 0;
    else
      std::strcpy(path, ".");
    if (access(path, W_OK | X_OK) != 0) {
      c.refused = i;
      c.error = errno;
      _exit(2);
    }
  }
  for (size_t i = 0; i < c.n_forwarded; ++i) sigaction(c.forwarded[i], &c.before[i], nullptr);
  sigprocmask(SIG_SETMASK, &c.mask, nullptr);
  execve(c.program, c.argv, c.envp);
  c.error = errno;
  if (c.error == ENOEXEC) {  // a script without "#!": as execvp does, through the shell
    const char* sh[258] = {"/bin/sh", c.program};
    size_t n = 2;
    for (char** a = c.argv + 1; *a && n < 257; ++a) sh[n++] = *a;
    sh[n] = nullptr;
    execve("/bin/sh", const_cast<char* const*>(sh), c.envp);
  }
  _exit(c.error == ENOENT ? 127 : 126);
}

// Starts the child (spawn_child) and returns its pid once it has exec'd or
// ended; -1 with ctx.error when it cannot be started. Signals are blocked
// meanwhile, so that no handler of numa-trace runs on the child's stack.
pid_t spawn(SpawnContext& ctx) {
  constexpr size_t kStack = size_t{64} * 1024;
  void* stack = mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    ctx.error = errno;
    return -1;
  }
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &ctx.mask);
  const pid_t pid = clone(spawn_child, static_cast<char*>(stack) + kStack, CLONE_VM | CLONE_VFORK | SIGCHLD, &ctx);
  if (pid < 0) ctx.error = errno;
  pthread_sigmask(SIG_SETMASK, &ctx.mask, nullptr);
  munmap(stack, kStack);
  return pid;
}

int run_program(const RunOptions& o) {
  if (o.command.empty()) {
    std::fprintf(stderr, "numa-trace run: no program given (numa-trace run [options] -- PROGRAM ARGS...)\n");
    return 2;
  }
  const std::string lib = find_library(false);
  const std::string preload = o.hooks_only ? lib : find_library(true);
  if (lib.empty() || preload.empty()) {
    std::fprintf(stderr, "numa-trace run: cannot find %s (set NUMA_TRACE_LIBRARY / NUMA_TRACE_PRELOAD)\n",
                 lib.empty() ? "libnumatrace.so" : "libnumatrace-preload.so");
    return 2;
  }
  // NUMA_TRACE separates its words with commas: a path holding one would
  // be cut there, and the rest read as options.
  for (const std::string* p : {&o.output, &o.jsonl})
    if (p->find(',') != std::string::npos && !(p == &o.output && o.no_output)) {
      std::fprintf(stderr, "numa-trace run: %s: a trace path cannot contain a comma\n", p->c_str());
      return 2;
    }
  // NUMA_TRACE for the program.
  std::string spec;
  auto add = [&](const std::string& w) { spec += (spec.empty() ? "" : ",") + w; };
  if (!o.no_output) add("file:" + o.output);
  if (!o.jsonl.empty()) add("jsonl:" + o.jsonl);
  if (o.stderr_all)
    add("stderr:all");
  else if (o.stderr_events)
    add("stderr");
  if (o.strict) add("strict");
  if (o.keep_dump) add("keep-dump");
  if (o.no_verify) add("no-verify");
  if (o.quiet) add("quiet");
  if (o.journal) add("journal");
  if (o.remote_threshold >= 0) add("remote=" + std::to_string(o.remote_threshold));
  if (o.progress && isatty(STDERR_FILENO)) add("progress");
  // libnumatrace itself is preloaded too (after the interposer), so that it
  // comes before libc and its sigaction() keeps the crash handler first.
  std::string ld_preload = o.hooks_only ? lib : preload + ":" + lib;
  if (const char* old = std::getenv("LD_PRELOAD"); old && *old) ld_preload += std::string(":") + old;
  const std::string program = which(o.command[0]);
  // A program built with gcc's -fsanitize=address aborts unless libasan is
  // the first library of the process: it goes in front of ours. (clang's
  // ASan runtime is linked into the program itself and needs nothing.)
  if (const std::string asan = first_runtime_of(program); !asan.empty()) ld_preload = asan + ":" + ld_preload;
  // A program run with AT_SECURE gets no LD_PRELOAD from the dynamic loader:
  // it would run untraced, so that is said up front and again at the end.
  const std::string secure = secure_exec_reason(program);
  if (!secure.empty())
    std::fprintf(stderr,
                 "numa-trace: %s %s: the dynamic loader ignores LD_PRELOAD for it (AT_SECURE), so it runs "
                 "untraced\n",
                 o.command[0].c_str(), secure.c_str());

  // Signals sent to numa-trace by a process go to the program (forward()).
  // The program gets the dispositions numa-trace was started with (an
  // ignored SIGINT under nohup stays ignored).
  constexpr int kForwarded[] = {SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGCONT, SIGWINCH};
  struct sigaction fwd {
  }, before[std::size(kForwarded)];
  fwd.sa_sigaction = forward;
  sigemptyset(&fwd.sa_mask);
  fwd.sa_flags = SA_RESTART | SA_SIGINFO;
  for (size_t i = 0; i < std::size(kForwarded); ++i) sigaction(kForwarded[i], &fwd, &before[i]);

  // The program is started the way posix_spawn does it (clone with
  // CLONE_VM | CLONE_VFORK: no copy of numa-trace's page tables, numa-trace
  // waits until the exec). Before the exec the child checks what names its
  // own pid: a trace file already there is refused before the program runs
  // (the recorder never overwrites one, and the report must not show an
  // older trace), and a folder the recorder could not create it in is said.
  // The child only calls async-signal-safe functions and writes its answer
  // into `ctx`, shared with numa-trace until the exec.
  if (program.empty() && o.command[0].find('/') == std::string::npos) {
    std::fprintf(stderr, "numa-trace run: %s: %s\n", o.command[0].c_str(), std::strerror(ENOENT));
    for (size_t i = 0; i < std::size(kForwarded); ++i) sigaction(kForwarded[i], &before[i], nullptr);
    return 127;  // as a shell says "not found"
  }
  SpawnContext ctx;
  ctx.program = program.empty() ? o.command[0].c_str() : program.c_str();
  std::vector<char*> argv;
  for (const auto& a : o.command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ctx.argv = argv.data();
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "LD_PRELOAD=", 11) != 0 && std::strncmp(*e, "NUMA_TRACE=", 11) != 0) env_strings.push_back(*e);
  env_strings.push_back("LD_PRELOAD=" + ld_preload);
  env_strings.push_back("NUMA_TRACE=" + spec);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  ctx.envp = envp.data();
  // The outputs, with "%p" for the child to put its pid in.
  const std::string outputs[] = {o.no_output ? std::string() : o.output, o.jsonl};
  for (int i = 0; i < 2; ++i) ctx.outputs[i] = outputs[i].empty() ? nullptr : outputs[i].c_str();
  ctx.forwarded = kForwarded;
  ctx.n_forwarded = std::size(kForwarded);
  ctx.before = before;
  const pid_t pid = spawn(ctx);
  if (pid < 0) {
    std::fprintf(stderr, "numa-trace run: starting the program: %s\n", std::strerror(ctx.error));
    return 2;
  }
  if (ctx.refused >= 0) {
    // The child ended before the exec: nothing ran.
    int ignored;
    while (waitpid(pid, &ignored, 0) < 0 && errno == EINTR) {
    }
    for (size_t i = 0; i < std::size(kForwarded); ++i) sigaction(kForwarded[i], &before[i], nullptr);
    const std::string out = expand_pid(outputs[ctx.refused], pid);
    if (ctx.refused_exists)
      std::fprintf(stderr, "numa-trace run: %s exists; not overwriting it (remove it or name another with -o)\n",
                   out.c_str());
    else
      std::fprintf(stderr, "numa-trace run: cannot write the trace in %s: %s (name another path with -o)\n",
                   dir_name(out).c_str(), std::strerror(ctx.error));
    return 2;
  }
  if (ctx.error != 0) {
    // The exec failed: the child ended with 127 or 126, the program's
    // status from here on (as a shell's).
    std::fprintf(stderr, "numa-trace run: %s: %s\n", o.command[0].c_str(), std::strerror(ctx.error));
  }
  g_child = pid;
  // numa-trace's own lines go to the program's stderr: if that is a closed
  // pipe, they fail with EPIPE rather than end numa-trace with SIGPIPE and
  // hide the program's exit status. (The program was started with the
  // disposition numa-trace was started with.)
  signal(SIGPIPE, SIG_IGN);
  const std::string path = expand_pid(o.output, pid);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  g_child = 0;
  // Nothing is left to forward to: a SIGTERM from now on (while the trace
  // is read) must end numa-trace as it would have without the forwarding.
  for (size_t i = 0; i < std::size(kForwarded); ++i) sigaction(kForwarded[i], &before[i], nullptr);

  int rc;
  if (WIFSIGNALED(status)) {
    rc = 128 + WTERMSIG(status);
    std::fprintf(stderr, "numa-trace: %s died of %s%s\n", o.command[0].c_str(),
                 postmortem::signal_text(WTERMSIG(status)).c_str(), WCOREDUMP(status) ? " (core dumped)" : "");
  } else {
    rc = WEXITSTATUS(status);
  }
  if (!o.no_output) {
    // Each process or image that recorded an event wrote a trace: the first
    // to PATH, the others (a script's second loader, a forked child, an
    // exec'd image) to PATH.1, PATH.2, ... (the recorder never overwrites
    // one). Each is said, and --report shows each. A program that mapped
    // and read no GGUF split writes none.
    std::vector<std::string> paths;
    for (int k = 0; k < 100; ++k) {
      const std::string p = k ? path + "." + std::to_string(k) : path;
      struct stat pst {};
      if (lstat(p.c_str(), &pst) != 0) break;
      paths.push_back(p);
    }
    if (paths.size() > 1)
      std::fprintf(stderr, "numa-trace: %zu traced processes or images (a child, a later loader, an exec): %s to %s\n",
                   paths.size(), path.c_str(), paths.back().c_str());
    if (paths.empty())
      std::fprintf(stderr, "numa-trace: no trace was written to %s (%s)\n", path.c_str(),
                   !secure.empty() ? ("the program " + secure + ": LD_PRELOAD was ignored").c_str()
                                   : "the program mapped and read no GGUF split, so there was nothing to record");
    for (const auto& p : paths) {
      auto t = trace::read_trace(p);
      if (t) {
        std::fprintf(stderr, "numa-trace: %zu events, %zu findings in %s (pid %u; numa-trace report %s)\n",
                     t->events.size(), t->findings.size(), p.c_str(), t->header.pid, p.c_str());
        if (o.report) {
          ReportOptions ro;
          ro.trace = p;
          print_report(ro);
        }
      } else {
        print_error(t.error());
      }
    }
  }
  return rc;
}

}  // namespace

Command add_run(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  auto* sub = app.add_subcommand(
      "run",
      "Run a loader under numa-trace: libnumatrace is preloaded (with the interposer for programs built without "
      "numatrace/hooks.h) and writes a binary trace; findings are printed as they happen. Signals sent to numa-trace "
      "by a process are forwarded (the terminal's are not sent twice). Also run as 'numa-trace PROGRAM ARGS...'. "
      "Exit status: the program's (128+N when it died of signal N, which is said); 127 or 126 when it "
      "cannot be started, 2 on wrong arguments.");
  sub->add_option("command", o->command, "PROGRAM and its arguments, after --")->required();
  sub->add_option("-o,--output", o->output,
                  "Binary trace path; every %p is the program's pid. An existing file is refused (exit 2), never "
                  "overwritten; no commas")
      ->default_val("numa-trace-%p.nttrace");
  sub->add_flag("--no-output", o->no_output, "Write no binary trace");
  sub->add_option("--jsonl", o->jsonl, "Also write every event as JSON lines to this path");
  sub->add_flag("--stderr", o->stderr_events, "Print every event but resolves on stderr");
  sub->add_flag("--stderr-all", o->stderr_all, "Print every event, resolves included, on stderr");
  sub->add_flag("--strict", o->strict, "Stop the program (SIGABRT, core) at the first error finding");
  sub->add_flag("--keep-dump", o->keep_dump, "Keep model memory in core dumps (default: left out)");
  sub->add_flag("--no-verify", o->no_verify, "Skip the check of unified/replica data against the files (NT011)");
  sub->add_flag("-q,--quiet", o->quiet, "No finding lines on stderr (they stay in the trace)");
  sub->add_option("--remote-threshold", o->remote_threshold,
                  "Raise NT015 (advice) when at least this percent of the bytes a load resolved lie on another node "
                  "than the resolving thread's (default 60)")
      ->check(CLI::Range(0, 100));
  sub->add_flag("--hooks-only", o->hooks_only, "Preload libnumatrace alone, without the interposer");
  sub->add_flag("--journal", o->journal, "Also send findings and mapping events to the systemd journal");
  sub->add_flag("--report", o->report, "Print the report of the trace when the program ends");
  sub->add_flag("!--no-progress", o->progress, "No progress line (shown only when stderr is a terminal)");
  sub->positionals_at_end(true);
  return {sub, [o] { return run_program(*o); }};
}

}  // namespace numatrace::cli
