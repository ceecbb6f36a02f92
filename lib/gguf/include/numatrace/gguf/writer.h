// Writing GGUF v3 files. The raw header serializer writes whatever it is
// given (tests use it to build malformed files); write_file computes the
// offsets the way the loader expects them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "numatrace/gguf/types.h"
#include "numatrace/result.h"

namespace numatrace::gguf {

// A tensor info exactly as it goes on disk, unchecked.
struct RawTensorInfo {
  std::string name;
  std::vector<int64_t> ne;  // n_dims = ne.size()
  int32_t type = 0;
  uint64_t offset = 0;
};

// Header bytes (magic .. tensor infos), not padded to the alignment.
std::vector<std::byte> serialize_header(uint32_t version, std::span<const KeyValue> kvs,
                                        std::span<const RawTensorInfo> tensors);

struct TensorSpec {
  std::string name;
  std::vector<int64_t> ne;
  GgmlType type = GgmlType::f32;
};

// Bytes of the tensor; nullopt when its dimensions do not fit its type.
std::optional<uint64_t> tensor_bytes(const TensorSpec& t);

struct FileSpec {
  uint32_t alignment = kDefaultAlignment;  // written as general.alignment unless 32
  std::vector<KeyValue> kvs;
  std::vector<TensorSpec> tensors;
};

// Fills `out` with the bytes of `tensor` starting at `offset` in the tensor.
using FillFn = std::function<void(const TensorSpec& tensor, uint64_t offset, std::span<std::byte> out)>;

// Computes sizes and offsets (padded running sum) of `spec`.
Result<std::vector<RawTensorInfo>> layout_tensors(const FileSpec& spec);

// Writes a valid GGUF v3 file; returns its size. The file must not exist
// (O_EXCL|O_NOFOLLOW: nothing is written through a symlink or into an
// existing file); it is created with mode 0644 and written in 1 MiB chunks.
Result<uint64_t> write_file(const std::string& path, const FileSpec& spec, const FillFn& fill);

// The same bytes in memory (for tests and small files).
Result<std::vector<std::byte>> write_memory(const FileSpec& spec, const FillFn& fill);

}  // namespace numatrace::gguf
