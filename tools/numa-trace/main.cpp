// numa-trace: the command that fronts the toolkit. Each subcommand lives in
// its own cmd_*.cpp; this file wires them and maps errors to exit codes.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "cli.h"
#include "process.h"

#ifndef NUMA_TRACE_VERSION
#error "NUMA_TRACE_VERSION must be defined by the build"
#endif

// An ASan build of numa-trace must not change what `numa-trace run` hands
// the program: ASan's default (disable_coredump=1) sets RLIMIT_CORE to 0 at
// start, and the program would inherit it and write no core.
#if defined(__SANITIZE_ADDRESS__)
extern "C" const char* __asan_default_options() {
  return "disable_coredump=0";
}
#endif

// An exception that escapes (std::bad_alloc) ends the command through
// std::terminate, with its message.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  using namespace numatrace::cli;
  CLI::App app{
      "numa-trace: trace, check and explain how model loaders map multi-part GGUF files on NUMA machines.\n"
      "Exit status: 0 nothing wrong, 1 problems reported, 2 usage or I/O error.",
      "numa-trace"};
  app.set_version_flag("--version", "numa-trace " NUMA_TRACE_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);

  const Command commands[] = {
      add_gen_model(app), add_inspect(app),    add_check(app),    add_run(app),     add_report(app),
      add_placement(app), add_postmortem(app), add_diagnose(app), add_journal(app), add_demo(app),
  };

  // `numa-trace PROGRAM ARGS...` (as heaptrack, strace, valgrind are used)
  // is `numa-trace run -- PROGRAM ARGS...` when PROGRAM is no subcommand.
  std::vector<char*> args(argv, argv + argc);
  if (argc > 1 && argv[1][0] != '-') {
    bool subcommand = false;
    for (const auto& c : commands) subcommand |= c.sub->check_name(argv[1]);
    if (!subcommand && which(argv[1]).empty()) {
      std::fprintf(stderr,
                   "numa-trace: '%s' is neither a subcommand (numa-trace --help lists them) nor a program to run\n",
                   argv[1]);
      return kUsage;
    }
    if (!subcommand) {
      static char run[] = "run", dashes[] = "--";
      args.insert(args.begin() + 1, {run, dashes});
    }
  }
  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kOk : kUsage;
  }
  try {
    for (const auto& c : commands)
      if (c.sub->parsed()) return c.run();
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "numa-trace: internal error: %s\n", ex.what());
    return kUsage;
  }
  return kUsage;
}
