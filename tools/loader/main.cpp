// numa-trace-loader: the reference loader's command line. Built twice: with
// numa-trace's hooks compiled in (numa-trace-loader) and without them
// (numa-trace-loader-unhooked, the "unmodified program").
#include <CLI/CLI.hpp>

#include <map>

#include "numatrace/loader/loader.h"

// An exception that escapes (std::bad_alloc) ends the program through
// std::terminate, with its message: what a loader that cannot go on should do.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  using namespace numatrace::loader;
  Options o;
  std::string strategy = "per-file", fault = "none";
  CLI::App app{
      "numa-trace-loader: load a multi-part GGUF model the way llama.cpp's loader does, with its mapping "
      "strategies and, on request, one of its known failure modes (docs/loader.md). Exit status: 0 loaded "
      "(and verified), 1 wrong bytes read or the load refused, 2 usage, model or I/O error; a fault may end "
      "in a signal instead, as the real loader would.",
      "numa-trace-loader"};
  app.add_option("model", o.model, "Any split's path, or the prefix")->required();
  app.add_option("--strategy", strategy,
                 "per-file: one mmap per file, slot = file idx; unified: all files in one region in slot 0, "
                 "slots 1..N-1 empty; mirror: one unified replica per NUMA node")
      ->check(CLI::IsMember({"per-file", "unified", "mirror"}))
      ->default_val("per-file");
  app.add_option("--fault", fault,
                 "Inject one of the real loader's failure modes: null-slot, offset-drift, mlock-null-slot, "
                 "same-object, partial-unmap, stale-copy, fixed-collision, wrong-replica, misbind, leak, worker-crash")
      ->default_val("none");
  app.add_option("--threads", o.threads, "Loading threads (spread over the nodes in mirror mode)")->default_val(4);
  app.add_option("--hugetlbfs", o.hugetlbfs, "Back unified/mirror regions with files in this hugetlbfs mount");
  app.add_flag("--fixed-address", o.fixed_address, "Ask for the region at 0x200000000000 + node * 0x200000000000");
  app.add_flag("--page-aligned", o.page_aligned, "Unified: start each file on a page boundary (default: packed)");
  app.add_flag("!--no-prefetch", o.prefetch, "Per-file: no MAP_POPULATE / WILLNEED");
  app.add_flag("--mlock", o.mlock, "mlock what is read, through mlock slots parallel to the mapping slots");
  app.add_flag("--verify", o.verify, "Compare every tensor's bytes with the generated contents");
  app.add_flag("--copy", o.copy, "Copy each tensor into a buffer (default: touch its pages)");
  app.add_flag("-q,--quiet", o.quiet, "No summary line");
  app.add_flag("--hold", o.hold,
               "After the load, print \"ready\" and keep the model loaded until SIGINT or SIGTERM (for numa-trace "
               "placement PID, gdb -p)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  parse_strategy(strategy, o.strategy);
  if (!parse_fault(fault, o.fault)) {
    std::fprintf(stderr, "numa-trace-loader: --fault %s: unknown (see --help)\n", fault.c_str());
    return 2;
  }
  return run(o);
}
