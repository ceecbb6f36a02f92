// Synthetic llama-shaped models with deterministic contents: any byte of any
// tensor can be checked later from (tensor name, offset in the tensor, seed).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "numatrace/gguf/types.h"
#include "numatrace/gguf/writer.h"
#include "numatrace/result.h"

namespace numatrace::gguf {

inline constexpr std::string_view kKeySeed = "numa_trace.seed";  // u64, in every split
inline constexpr uint64_t kDefaultSeed = 0x6e756d612d747261;     // "numa-tra"

struct SynthOptions {
  uint64_t target_bytes = 64ull << 20;  // approximate total tensor bytes
  unsigned splits = 0;                  // number of files; 0 = decided by the limits below
  uint64_t max_tensors_per_split = 0;   // 0 = no limit
  uint64_t layers = 0;                  // transformer blocks (9 tensors each); 0 = as many as target_bytes allows
  uint64_t max_bytes_per_split = 0;     // 0 = no limit
  GgmlType type = GgmlType::f16;        // type of the weight matrices (norms are f32)
  uint32_t alignment = kDefaultAlignment;
  uint64_t seed = kDefaultSeed;
};

struct SynthPlan {
  std::vector<KeyValue> metadata;   // general.*, llama.*, tokenizer.*, in the first split
  std::vector<TensorSpec> tensors;  // in load order
  std::vector<size_t> split_begin;  // index of each split's first tensor
  uint32_t alignment = kDefaultAlignment;
  uint64_t seed = kDefaultSeed;
};

// Chooses dimensions and layers to come near target_bytes and cuts the list
// into splits. Fails on options that cannot be met (e.g. more splits than
// tensors).
Result<SynthPlan> plan_model(const SynthOptions& options);

// Writes every split as `<prefix>-NNNNN-of-NNNNN.gguf` (or `<prefix>.gguf`
// for one split) and returns the paths. `progress` (may be empty) gets the
// bytes written so far and the total.
using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;
Result<std::vector<std::string>> write_model(const std::string& prefix, const SynthPlan& plan,
                                             const ProgressFn& progress = {});

// The deterministic contents: a function of the tensor's name, the seed and
// the byte's offset; f16 and f32 tensors hold finite values below 2 in
// magnitude, so real llama.cpp can run the model.
void fill_tensor_bytes(std::string_view name, GgmlType type, uint64_t seed, uint64_t offset, std::span<std::byte> out);
// Offset of the first byte of `data` (holding the tensor from `offset` on)
// that differs from the expected contents; nullopt when all match.
std::optional<uint64_t> verify_tensor_bytes(std::string_view name, GgmlType type, uint64_t seed, uint64_t offset,
                                            std::span<const std::byte> data);

}  // namespace numatrace::gguf
