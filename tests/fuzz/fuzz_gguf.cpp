// Fuzz target: one GGUF file as the reader sees it (numatrace::gguf::parse),
// then what inspect does with a parsed file: its tensors as the loader
// resolves them, every value's short form, and the unified layout.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "numatrace/gguf/model.h"
#include "numatrace/gguf/reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace numatrace::gguf;
  auto f = parse({reinterpret_cast<const std::byte*>(data), size}, "fuzz.gguf");
  if (!f) return 0;
  for (const auto& kv : f->kvs) (void)kv.value.str();
  std::vector<uint64_t> sizes{f->file_size, f->data_bytes()};
  Model m;
  m.add(std::move(f.value()));
  uint64_t sum = 0;
  for (const TensorRef& t : m.tensors()) sum += t.abs_offset + t.info->size;
  (void)sum;
  (void)unified_layout(sizes, Packing::page_aligned, 4096);
  return 0;
}
