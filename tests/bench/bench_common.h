// The baseline every figure is compared with: a call of an empty function
// with the same arguments as a resolve hook, through a pointer the compiler
// cannot see through (so the call is not inlined away).
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>

using ResolveFn = void (*)(int32_t, uint32_t, uint64_t, uint64_t, const void*, const char*);

__attribute__((noinline)) inline void empty_resolve(int32_t, uint32_t, uint64_t, uint64_t, const void*, const char*) {
  benchmark::ClobberMemory();
}

inline void BM_Baseline_EmptyFunction(benchmark::State& state) {
  static char data[4096];
  ResolveFn volatile fn = empty_resolve;
  ResolveFn f = fn;
  for (auto _ : state) f(0, 0, 64, 64, data + 64, "blk.0.attn_q.weight");
}
