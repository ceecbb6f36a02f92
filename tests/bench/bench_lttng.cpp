// The same resolve-shaped event recorded through LTTng-UST, beside the
// empty-function baseline, for tests/bench/run-benchmarks. The event is
// recorded only while an LTTng session has it enabled (run-benchmarks
// starts lttng-sessiond and a snapshot session, LTTng's in-memory flight
// recorder mode, the peer of numa-trace's ring); BM_Lttng_Resolve reports
// whether it was (`enabled`), so a figure taken without a session is never
// mistaken for one taken with it.
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#define LTTNG_UST_TRACEPOINT_DEFINE
#include "nt_bench_tp.h"

#include "bench_common.h"

namespace {

char g_data[4096];

void BM_Lttng_Resolve(benchmark::State& state) {
  for (auto _ : state) lttng_ust_tracepoint(numatrace_bench, resolve, 0, 0, 64, 64, g_data + 64, "blk.0.attn_q.weight");
  state.counters["enabled"] = lttng_ust_tracepoint_enabled(numatrace_bench, resolve) ? 1 : 0;
}

}  // namespace

BENCHMARK(BM_Baseline_EmptyFunction);
BENCHMARK(BM_Lttng_Resolve);
BENCHMARK_MAIN();
