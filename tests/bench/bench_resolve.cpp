// Cost of one resolve event with libnumatrace loaded: recorder only, and
// with a file sink draining in the background. tests/bench/run-benchmarks
// runs it and prints each figure as a ratio to the baseline.
#include <time.h>
#include <unistd.h>

#include <string>

#include "bench_common.h"
#include "numatrace/recorder.h"

namespace {

char g_data[1 << 16];

void setup_mapping() {
  static bool done = false;
  if (done) return;
  done = true;
  numatrace_model_begin("bench", 1);
  numatrace_file_open(0, "bench", sizeof g_data);
  NUMATRACE_MAPPING_CREATE(0, NUMATRACE_KIND_PER_FILE, g_data, sizeof g_data, -1, NUMATRACE_MAP_ANON, nullptr, nullptr,
                           0);
}

void BM_Resolve_RecorderOn(benchmark::State& state) {
  setup_mapping();
  for (auto _ : state) NUMATRACE_RESOLVE(0, 0, 64, 64, g_data + 64, "blk.0.attn_q.weight");
}

void BM_Resolve_FileSinkDraining(benchmark::State& state) {
  setup_mapping();
  std::string path = "/tmp/numa-trace-bench-" + std::to_string(getpid()) + ".nttrace";
  numatrace_configure(("file:" + path + ",quiet").c_str());
  for (auto _ : state) NUMATRACE_RESOLVE(0, 0, 64, 64, g_data + 64, "blk.0.attn_q.weight");
  numatrace_configure("");
  state.counters["dropped"] = static_cast<double>(numatrace_flight_recorder.counters.dropped_sink);
  unlink(path.c_str());
}

// What the floor is made of on this machine: the clocks an event can read
// (the kernel's coarse clock by default, RDTSC with NUMA_TRACE=clock=tsc)
// and the shared counter a thread's block of sequence numbers costs.
void BM_Part_CoarseClock(benchmark::State& state) {
  timespec ts;
  for (auto _ : state) {
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    benchmark::DoNotOptimize(ts);
  }
}
BENCHMARK(BM_Part_CoarseClock);
#if defined(__x86_64__)
void BM_Part_Rdtsc(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(__builtin_ia32_rdtsc());
}
void BM_Part_AtomicIncrement(benchmark::State& state) {
  static uint64_t counter;
  for (auto _ : state) benchmark::DoNotOptimize(__atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
}
BENCHMARK(BM_Part_Rdtsc);
BENCHMARK(BM_Part_AtomicIncrement);
#endif

}  // namespace

BENCHMARK(BM_Baseline_EmptyFunction);
BENCHMARK(BM_Resolve_RecorderOn);
BENCHMARK(BM_Resolve_RecorderOn)->Threads(2)->UseRealTime();
BENCHMARK(BM_Resolve_FileSinkDraining);
BENCHMARK_MAIN();
