// The load path of upstream's llama_model_loader, reduced: open the
// splits, map them, resolve every tensor through mappings.at(weight->idx).
#include "llama-model-loader.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

llama_model_loader::llama_model_loader(const std::string& index, bool use_mmap)
    : use_mmap(use_mmap), check_tensors(false), no_alloc(false) {
  std::ifstream in(index);
  if (!in) throw std::runtime_error("cannot open " + index);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string kind;
    words >> kind;
    if (kind == "file") {
      std::string path;
      words >> path;
      files.emplace_back(new llama_file(path.c_str(), "rb"));
    } else if (kind == "tensor") {
      unsigned idx = 0;
      size_t offs = 0, size = 0;
      std::string name;
      words >> idx >> offs >> size >> name;
      auto t = std::make_unique<ggml_tensor>();
      std::memset(t.get(), 0, sizeof *t);
      std::snprintf(t->name, sizeof t->name, "%s", name.c_str());
      t->ne[0] = static_cast<int64_t>(size);
      t->nb[0] = 1;
      weights_map.emplace(name, llama_tensor_weight(static_cast<uint16_t>(idx), offs, t.get()));
      ctx.tensors.push_back(t.get());
      owned.push_back(std::move(t));
      n_bytes += size;
    }
  }
  n_tensors = static_cast<int>(weights_map.size());
  arch_name = "llama";
}

llama_model_loader::~llama_model_loader() = default;

const llama_model_loader::llama_tensor_weight* llama_model_loader::get_weight(const char* name) const {
  auto it = weights_map.find(name);
  return it == weights_map.end() ? nullptr : &it->second;
}

void llama_model_loader::init_mappings(bool prefetch, llama_mlocks* mlock_mmaps, int missing) {
  if (!use_mmap) return;
  mappings.reserve(files.size());
  mmaps_used.reserve(files.size());
  for (size_t idx = 0; idx < files.size(); ++idx) {
    // The bug under test: one split never gets its mapping (as when a
    // unified-mapping patch keeps everything in another slot).
    if (static_cast<int>(idx) == missing) {
      mappings.emplace_back(nullptr);
      if (mlock_mmaps) mlock_mmaps->emplace_back(nullptr);
      mmaps_used.emplace_back(0, 0);
      continue;
    }
    std::unique_ptr<llama_mmap> mapping = std::make_unique<llama_mmap>(files.at(idx).get(), prefetch ? -1 : 0);
    mmaps_used.emplace_back(mapping->size(), 0);
    if (mlock_mmaps) {
      std::unique_ptr<llama_mlock> mlock_mmap(new llama_mlock());
      mlock_mmap->init(mapping->addr());
      mlock_mmaps->emplace_back(std::move(mlock_mmap));
    }
    mappings.emplace_back(std::move(mapping));
  }
}

bool llama_model_loader::load_all_data(ggml_context* ctx, llama_mlocks* lmlocks, size_t first, size_t stride) {
  size_t done = 0;
  uint64_t sum = 0;
  for (size_t i = first; i < ctx->tensors.size(); i += stride) {
    ggml_tensor* cur = ctx->tensors[i];
    const auto* weight = get_weight(ggml_get_name(cur));
    if (weight == nullptr) continue;
    const size_t n_size = static_cast<size_t>(cur->ne[0]);
    if (use_mmap) {
      const auto& mapping = mappings.at(weight->idx);
      uint8_t* data = (uint8_t*)mapping->addr() + weight->offs;
      if (lmlocks) {
        const auto& lmlock = lmlocks->at(weight->idx);
        lmlock->grow_to(weight->offs + n_size);
      }
      cur->data = data;
      // Touch the tensor's pages, as uploading it would.
      for (size_t k = 0; k < n_size; k += 4096) sum += data[k];
    }
    done += n_size;
  }
  __atomic_fetch_add(&size_done, done, __ATOMIC_RELAXED);
  return sum != 1;
}

__attribute__((noinline)) uint8_t* llama_model_loader::weight_data(const llama_tensor_weight& w) const {
  const auto& mapping = mappings.at(w.idx);
  return (uint8_t*)mapping->addr() + w.offs;
}

void llama_model_loader::load_data_for(ggml_tensor* cur) const {
  const auto* weight = get_weight(ggml_get_name(cur));
  if (weight == nullptr) return;
  const auto& w = *weight;
  if (use_mmap) {
    if (cur->data == nullptr) {
      cur->data = weight_data(w);
    } else {
      std::memcpy(cur->data, weight_data(w), static_cast<size_t>(cur->ne[0]));
    }
  }
}

__attribute__((noinline)) uint8_t* llama_model_loader::file_data(uint16_t idx, size_t offs) const {
  return (uint8_t*)mappings.at(idx)->addr() + offs;
}

void llama_model_loader::load_data_by_index(ggml_tensor* cur) const {
  const auto* weight = get_weight(ggml_get_name(cur));
  if (weight == nullptr) return;
  cur->data = file_data(weight->idx, weight->offs);
}
