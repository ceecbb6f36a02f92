// A program whose types are the real loader's (lib/loader/src/llama_types.h,
// named and laid out as upstream), stopped where the loader resolves a tensor
// of file 1 in unified mode: slot 0 holds the region, slots 1-5 are empty.
// `stop` stops at stop_here(); `crash` goes on to dereference the null slot.
// Built with NUMATRACE_OLD_FILE_LAYOUT it has the July 2025 llama_file.
#include <sys/mman.h>

#include <cstdio>
#include <cstring>

#include "llama_types.h"

llama_mmap::~llama_mmap() {}
llama_mlock::~llama_mlock() {}
void llama_mlock::grow_to(size_t) {}
void llama_mmap::unmap_fragment(size_t, size_t) {}

extern "C" __attribute__((noinline)) void stop_here() {
  asm volatile("");
}

// As upstream: `weight` is a pointer into weights_map.
__attribute__((noinline)) unsigned load_all_data(llama_model_loader& ml,
                                                 const llama_model_loader::llama_tensor_weight* weight, bool crash) {
  stop_here();
  if (!crash) return 0;
  const auto& mapping = ml.mappings.at(weight->idx);
  const unsigned char* data = static_cast<const unsigned char*>(mapping->addr()) + weight->offs;  // null slot
  return data[0];
}

int main(int argc, char** argv) {
  const bool crash = argc > 1 && std::strcmp(argv[1], "crash") == 0;
  static const size_t sizes[6] = {0x5000, 0x3000, 0x4000, 0x2000, 0x6000, 0x1000};
  llama_model_loader ml;
  size_t total = 0;
  for (int i = 0; i < 6; ++i) {
    auto f = std::make_unique<llama_file>();
    f->pimpl = std::make_unique<llama_file::impl>();
#ifndef NUMATRACE_OLD_FILE_LAYOUT
    char name[64];
    std::snprintf(name, sizeof name, "/models/m-%05d-of-00006.gguf", i + 1);
    f->pimpl->fname = name;
    f->pimpl->owns_fp = false;
#endif
    f->pimpl->size = sizes[i];
    ml.files.push_back(std::move(f));
    total += sizes[i];
  }
  auto m = std::make_unique<llama_mmap>();
  m->pimpl = std::make_unique<llama_mmap::impl>();
  m->pimpl->addr = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  m->pimpl->size = total;
  m->pimpl->mapped_fragments.emplace_back(0, total);
  ml.mappings.push_back(std::move(m));
  for (int i = 1; i < 6; ++i) ml.mappings.emplace_back(nullptr);  // unified mode: slots 1-5 empty
  ml.tensors.resize(1);
  ggml_tensor& t = ml.tensors[0];
  std::memset(&t, 0, sizeof t);
  std::snprintf(t.name, sizeof t.name, "blk.0.attn_k.weight");
  t.nbytes = 0x200;
  ml.weights_map[t.name] = {1, 0x1a40, &t};
  ml.n_tensors = 1;
  unsigned r = load_all_data(ml, &ml.weights_map.begin()->second, crash);
  std::printf("done %u\n", r);
  return 0;
}
