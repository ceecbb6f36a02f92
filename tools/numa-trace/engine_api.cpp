// The module's one export: the engine's entry points (engine.h).
#include "engine.h"

namespace numatrace::cli {
namespace {

bool verdict(const std::string& core, const std::string& executable, std::string& out) {
  postmortem::Options po;
  po.core = core;
  po.executable = executable;
  auto pm = postmortem::analyze(po);
  out = pm ? pm->verdict : pm.error().str();
  return static_cast<bool>(pm);
}

constexpr EngineApi kApi = {
    NUMA_TRACE_VERSION, {sizeof(PostmortemOptions), sizeof(DiagnoseOptions), sizeof(JournalOptions)},
    run_postmortem,     run_diagnose,
    run_journal,        verdict,
};

}  // namespace
}  // namespace numatrace::cli

extern "C" __attribute__((visibility("default"))) const numatrace::cli::EngineApi* numatrace_cli_engine(void) {
  return &numatrace::cli::kApi;
}
