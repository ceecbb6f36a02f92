// Multi-part ("split") GGUF models: file naming, opening every split from any
// one of them, the loader's cross-split validations, and the unified layout a
// NUMA-mirror loader computes when it copies all files into one region.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "numatrace/gguf/split_name.h"
#include "numatrace/gguf/types.h"
#include "numatrace/result.h"

namespace numatrace::gguf {

inline constexpr std::string_view kKeySplitNo = "split.no";                       // u16, 0-based
inline constexpr std::string_view kKeySplitCount = "split.count";                 // u16
inline constexpr std::string_view kKeySplitTensorsCount = "split.tensors.count";  // i32
inline constexpr std::string_view kKeyAlignment = "general.alignment";            // u32

// How a loader holds a split model in memory (the reference loader's
// --strategy, numa-trace check's): each split mapped on its own, one
// unified region holding every split, or one such region per NUMA node.
enum class Strategy { per_file, unified, mirror };
const char* strategy_name(Strategy s);  // "per-file", "unified", "mirror"
bool parse_strategy(std::string_view s, Strategy& out);

// "<prefix>-%05d-of-%05d.gguf"; `no` is 0-based, the name is 1-based.
std::string split_path(const std::string& prefix, unsigned no, unsigned count);

struct SplitName {
  std::string prefix;
  unsigned no = 0;  // 0-based
  unsigned count = 0;
};
std::optional<SplitName> parse_split_path(const std::string& path);

// Where a tensor is: its file idx and absolute offset in that file, as the
// loader's llama_tensor_weight has them.
struct TensorRef {
  uint16_t file_idx = 0;
  const TensorInfo* info = nullptr;
  uint64_t abs_offset = 0;  // data_offset + info->offset
};

struct Model {
  std::string prefix;  // empty for a single-file model
  unsigned split_count = 1;
  // Index = file idx. A file that could not be read or parsed keeps its
  // place with only its path set and readable[idx] false.
  std::vector<FileInfo> files;
  std::vector<bool> readable;
  std::vector<Error> problems;  // every validation problem found

  bool valid() const { return problems.empty(); }
  bool all_read() const;
  void add(FileInfo f);
  void add_unreadable(const std::string& path, std::optional<Error> why);  // why: its problem, if not said already
  std::vector<TensorRef> tensors() const;                                  // in file order
  uint64_t tensor_count() const;
};

// Opens the model that `path` belongs to: any split's path, the path of a
// single-file model, or the prefix of a split model. Fails (ErrorKind::io)
// only when the first file cannot be found or read; every other problem is
// recorded in Model::problems and the remaining files are still read.
Result<Model> open_model(const std::string& path);

// Unified layout: where each file lands in one region holding all files back
// to back (the NUMA-mirror loader's mapping in slot 0, one per node).
enum class Packing {
  packed,        // file i at sum of sizes of files 0..i-1 (what the loader computes)
  page_aligned,  // each file starts on a page boundary
};
struct Extent {
  uint16_t file_idx = 0;
  uint64_t offset = 0;  // in the unified region
  uint64_t length = 0;  // the file's size
};
struct UnifiedLayout {
  std::vector<Extent> extents;
  uint64_t total = 0;  // bytes of the region (rounded to page_size when page_aligned)
};
Result<UnifiedLayout> unified_layout(std::span<const uint64_t> file_sizes, Packing packing, uint64_t page_size);

}  // namespace numatrace::gguf
