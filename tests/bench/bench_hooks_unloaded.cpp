// Cost of a hook when libnumatrace is not loaded: this program includes
// numatrace/hooks.h and links nothing of numa-trace, as a patched loader does.
#include "bench_common.h"
#include "numatrace/hooks.h"

namespace {

char g_data[4096];

void BM_Resolve_HooksNotLoaded(benchmark::State& state) {
  for (auto _ : state) {
    NUMATRACE_RESOLVE(0, 0, 64, 64, g_data + 64, "blk.0.attn_q.weight");
    benchmark::ClobberMemory();
  }
}

}  // namespace

BENCHMARK(BM_Baseline_EmptyFunction);
BENCHMARK(BM_Resolve_HooksNotLoaded);
BENCHMARK_MAIN();
