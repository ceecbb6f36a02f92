// llama_model_loader with upstream's data members in upstream's order
// (docs/llama-loader.md), the nested llama_tensor_weight, and the methods the
// load path uses. Fields this test does not need keep their place with
// simplified types, so that offsets move the way a real build's do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ggml.h"
#include "llama-mmap.h"

struct llama_model_kv_override;
struct llama_model_tensor_buft_override;

struct llama_model_loader {
  struct llama_tensor_weight {
    uint16_t idx;  // source file index
    size_t offs;   // tensor data offset in the original file
    ggml_tensor* tensor;

    llama_tensor_weight(uint16_t idx, size_t offs, ggml_tensor* tensor) : idx(idx), offs(offs), tensor(tensor) {}
  };

  int n_kv = 0;
  int n_tensors = 0;
  int n_created = 0;

  uint64_t n_elements = 0;
  size_t n_bytes = 0;

  bool use_mmap = false;
  bool use_direct_io = false;
  bool check_tensors;
  bool no_alloc;
  bool load_mtp = false;

  llama_files files;
  int ftype = 0;
  int fver = 3;

  llama_mmaps mappings;

  std::map<std::string, llama_tensor_weight> weights_map;
  std::map<std::string, int> kv_overrides;
  const llama_model_tensor_buft_override* tensor_buft_overrides = nullptr;

  void* metadata_ptr = nullptr;
  void* metadata = nullptr;
  void* set_tensor_data = nullptr;
  void* set_tensor_data_ud = nullptr;
  std::vector<ggml_context*> contexts;

  std::string arch_name;
  int llm_kv = 0;

  size_t size_done = 0;
  size_t size_data = 0;
  std::vector<std::pair<size_t, size_t>> mmaps_used;

  // `index` lists the splits and their tensors (see main.cpp).
  llama_model_loader(const std::string& index, bool use_mmap);
  ~llama_model_loader();

  const llama_tensor_weight* get_weight(const char* name) const;
  // Slot `missing` (if >= 0) is left without a mapping: the bug under test.
  void init_mappings(bool prefetch, llama_mlocks* mlock_mmaps, int missing);
  bool load_all_data(ggml_context* ctx, llama_mlocks* lmlocks, size_t first, size_t stride);
  // Upstream's single-tensor path (used when tensors are loaded one by one).
  void load_data_for(ggml_tensor* cur) const;
  // Where a weight's data is: mappings.at(w.idx)->addr() + w.offs. Kept
  // out of line (as a separately compiled helper would be): after the call
  // to addr() it no longer needs `this`, so at -O2 its `this` is known
  // only as DW_OP_entry_value(rdi), through load_data_for's call site.
  uint8_t* weight_data(const llama_tensor_weight& w) const;
  // The same from the weight's file index and offset: nothing of the
  // weight survives the call in the caller, so it cannot be recovered.
  uint8_t* file_data(uint16_t idx, size_t offs) const;
  void load_data_by_index(ggml_tensor* cur) const;

  ggml_context ctx;  // the tensors this test creates (upstream: the model's contexts)
  std::vector<std::unique_ptr<ggml_tensor>> owned;
};
