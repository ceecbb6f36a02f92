// A loader shaped like upstream llama.cpp's (types, names, member order,
// pimpl impls in their own compile unit) that crashes the way the null-slot
// bug does: several threads resolve tensors through mappings.at(idx), and
// slot --missing was never filled. Cores of it test `numa-trace postmortem`
// reading the loader's state from DWARF alone.
//
//   shaped-loader INDEX [--threads N] [--missing SLOT] [--mlock] [--one-by-one | --by-index]
//
// --one-by-one loads each tensor through load_data_for(), upstream's
// single-tensor path, instead of load_all_data(); --by-index through
// file_data(idx, offs), which leaves no weight to recover.
//
// INDEX has one line per split, "file PATH", then one per tensor,
// "tensor FILE_IDX ABS_OFFSET SIZE NAME" (tests/debuginfo/debuginfo.sh
// writes it from `numa-trace inspect --json --tensors`).
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "llama-model-loader.h"

extern "C" const char* ggml_get_name(const ggml_tensor* tensor) {
  return tensor->name;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s INDEX [--threads N] [--missing SLOT] [--mlock] [--one-by-one | --by-index]\n",
                 argv[0]);
    return 2;
  }
  unsigned threads = 2;
  int missing = -1;
  bool mlock = false, one_by_one = false, by_index = false;
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads = static_cast<unsigned>(std::atoi(argv[++i]));
    } else if (!std::strcmp(argv[i], "--missing") && i + 1 < argc) {
      missing = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--mlock")) {
      mlock = true;
    } else if (!std::strcmp(argv[i], "--one-by-one")) {
      one_by_one = true;
    } else if (!std::strcmp(argv[i], "--by-index")) {
      by_index = true;
    } else {
      std::fprintf(stderr, "%s: unknown argument %s\n", argv[0], argv[i]);
      return 2;
    }
  }
  if (threads == 0) threads = 1;
  try {
    llama_model_loader ml(argv[1], true);
    llama_mlocks mlocks;
    ml.init_mappings(true, mlock ? &mlocks : nullptr, missing);
    // The threads start loading once all exist: the main thread is then
    // waiting in join(), as upstream's waits for its loading threads, and
    // not inside clone3 (whose syscall has no CFI to unwind through).
    std::vector<std::thread> pool;
    std::atomic<bool> go{false};
    for (unsigned t = 0; t < threads; ++t)
      pool.emplace_back([&ml, &mlocks, &go, mlock, one_by_one, by_index, t, threads] {
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        if (by_index) {
          for (size_t i = t; i < ml.ctx.tensors.size(); i += threads) ml.load_data_by_index(ml.ctx.tensors[i]);
        } else if (one_by_one) {
          for (size_t i = t; i < ml.ctx.tensors.size(); i += threads) ml.load_data_for(ml.ctx.tensors[i]);
        } else {
          ml.load_all_data(&ml.ctx, mlock ? &mlocks : nullptr, t, threads);
        }
      });
    go.store(true, std::memory_order_release);
    for (auto& th : pool) th.join();
    std::printf("loaded %zu bytes of %d tensors from %zu files\n", ml.size_done, ml.n_tensors, ml.files.size());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 1;
  }
  return 0;
}
