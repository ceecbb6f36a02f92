// The module's one export: the engine's entry points (engine.h).
#include <cstdio>
#include <exception>

#include "cli.h"
#include "engine.h"

namespace numatrace::cli {
namespace {

// Nothing is thrown across the module's edge: the command and the module
// each carry their own copy of the C++ runtime (linked statically, for the
// command's start), so an exception is ended here, as main() ends one.
template <class Options, int (*Run)(const Options&)>
int guarded(const Options& o) {
  try {
    return Run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "numa-trace: internal error: %s\n", e.what());
    return kUsage;
  }
}

bool verdict(const std::string& core, const std::string& executable, std::string& out) {
  try {
    postmortem::Options po;
    po.core = core;
    po.executable = executable;
    auto pm = postmortem::analyze(po);
    out = pm ? pm->verdict : pm.error().str();
    return static_cast<bool>(pm);
  } catch (const std::exception& e) {
    out = std::string("internal error: ") + e.what();
    return false;
  }
}

int coredumps(const std::string& match, std::vector<postmortem::CoredumpEntry>& out) {
  try {
    auto found = postmortem::find_coredumps(match, false);
    if (!found) return unusable(found.error());
    out = std::move(*found);
    return kOk;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "numa-trace: internal error: %s\n", e.what());
    return kUsage;
  }
}

constexpr EngineApi kApi = {
    NUMA_TRACE_VERSION, {sizeof(PostmortemOptions), sizeof(DiagnoseOptions), sizeof(JournalOptions)},
    run_postmortem,     run_diagnose,
    run_journal,        verdict,
    coredumps,
};

}  // namespace
}  // namespace numatrace::cli

extern "C" __attribute__((visibility("default"))) const numatrace::cli::EngineApi* numatrace_cli_engine(void) {
  return &numatrace::cli::kApi;
}
