// numa-trace run [options] -- PROGRAM ARGS...: runs a loader with
// libnumatrace preloaded (and, for programs without the hooks, the preload
// interposer), configured through NUMA_TRACE; forwards signals; exits with
// the program's status.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
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
  bool hooks_only = false, report = false, progress = true;
};

pid_t g_child = 0;

void forward(int sig) {
  if (g_child > 0) kill(g_child, sig);
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
  if (o.progress && isatty(STDERR_FILENO)) add("progress");
  // libnumatrace itself is preloaded too (after the interposer), so that it
  // comes before libc and its sigaction() keeps the crash handler first.
  std::string ld_preload = o.hooks_only ? lib : preload + ":" + lib;
  if (const char* old = std::getenv("LD_PRELOAD"); old && *old) ld_preload += std::string(":") + old;

  // Signals sent to numa-trace go to the program; the terminal's SIGINT and
  // SIGQUIT reach the program directly (same process group), so numa-trace
  // ignores those while it waits.
  struct sigaction fwd {};
  fwd.sa_handler = forward;
  sigemptyset(&fwd.sa_mask);
  fwd.sa_flags = SA_RESTART;
  for (int sig : {SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGCONT, SIGWINCH}) sigaction(sig, &fwd, nullptr);
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);

  pid_t pid = fork();
  if (pid < 0) {
    std::perror("numa-trace run: fork");
    return 2;
  }
  if (pid == 0) {
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    setenv("LD_PRELOAD", ld_preload.c_str(), 1);
    setenv("NUMA_TRACE", spec.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : o.command) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "numa-trace run: %s: %s\n", args[0], std::strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  g_child = pid;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  g_child = 0;

  int rc;
  if (WIFSIGNALED(status)) {
    rc = 128 + WTERMSIG(status);
    std::fprintf(stderr, "numa-trace: %s died of %s%s\n", o.command[0].c_str(),
                 postmortem::signal_text(WTERMSIG(status)).c_str(), WCOREDUMP(status) ? " (core dumped)" : "");
  } else {
    rc = WEXITSTATUS(status);
  }
  if (!o.no_output) {
    std::string path = o.output;
    if (auto at = path.find("%p"); at != std::string::npos) path.replace(at, 2, std::to_string(pid));
    auto t = trace::read_trace(path);
    if (t) {
      std::fprintf(stderr, "numa-trace: %zu events, %zu findings in %s (numa-trace report %s)\n", t->events.size(),
                   t->findings.size(), path.c_str(), path.c_str());
      if (o.report) {
        ReportOptions ro{path, false, ""};
        print_report(ro);
      }
    } else if (t.error().kind == ErrorKind::io) {
      std::fprintf(stderr, "numa-trace: no trace was written to %s (%s)\n", path.c_str(), t.error().message.c_str());
    } else {
      report(t.error());
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
      "are forwarded. Exit status: the program's (128+N when it died of signal N, which is said); 127 or 126 when it "
      "cannot be started, 2 on wrong arguments.");
  sub->add_option("command", o->command, "PROGRAM and its arguments, after --")->required();
  sub->add_option("-o,--output", o->output, "Binary trace path; %p is the program's pid (never overwritten)")
      ->default_val("numa-trace-%p.nttrace");
  sub->add_flag("--no-output", o->no_output, "Write no binary trace");
  sub->add_option("--jsonl", o->jsonl, "Also write every event as JSON lines to this path");
  sub->add_flag("--stderr", o->stderr_events, "Print every event but resolves on stderr");
  sub->add_flag("--stderr-all", o->stderr_all, "Print every event, resolves included, on stderr");
  sub->add_flag("--strict", o->strict, "Stop the program (SIGABRT, core) at the first error finding");
  sub->add_flag("--keep-dump", o->keep_dump, "Keep model memory in core dumps (default: left out)");
  sub->add_flag("--no-verify", o->no_verify, "Skip the check of unified/replica data against the files (NT011)");
  sub->add_flag("-q,--quiet", o->quiet, "No finding lines on stderr (they stay in the trace)");
  sub->add_flag("--hooks-only", o->hooks_only, "Preload libnumatrace alone, without the interposer");
  sub->add_flag("--report", o->report, "Print the report of the trace when the program ends");
  sub->add_flag("!--no-progress", o->progress, "No progress line (shown only when stderr is a terminal)");
  sub->positionals_at_end(true);
  return {sub, [o] { return run_program(*o); }};
}

}  // namespace numatrace::cli
