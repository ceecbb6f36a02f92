// The loader's types, named and ordered as upstream llama.cpp's (build
// b10587, docs/llama-loader.md), so that tools written for the real loader (gdb
// printers, post-mortem from DWARF) work on this one. Only what the
// reference loader needs is filled in; extra state lives after the
// upstream members.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

// ggml's tensor, reduced to what a loader touches; `name` as GGML_MAX_NAME.
struct ggml_tensor {
  int32_t type;
  int64_t ne[4];
  size_t nbytes;
  void* data;
  char name[64];
};

struct llama_file {
#ifdef NUMATRACE_OLD_FILE_LAYOUT
  // The July 2025 layout the NUMA-mirror work started from: no fd or name.
  struct impl {
    FILE* fp = nullptr;
    size_t size = 0;
  };
#else
  struct impl {
    int fd = -1;  // -1 at run time upstream too: files are read through fp
    std::string fname;
    size_t alignment = 1;
    FILE* fp = nullptr;
    size_t size = 0;
    bool owns_fp = true;
    ~impl() {
      if (fp && owns_fp) std::fclose(fp);
    }
  };
#endif
  std::unique_ptr<impl> pimpl;

  size_t size() const {
    return pimpl->size;
  }
  int fileno() const {
    return ::fileno(pimpl->fp);
  }
#ifndef NUMATRACE_OLD_FILE_LAYOUT
  const std::string& path() const {
    return pimpl->fname;
  }
#endif
};

enum class backing_kind { file, anonymous, hugetlbfs, numa };

struct llama_mmap {
  struct impl {
    std::vector<std::pair<size_t, size_t>> mapped_fragments;
    void* addr = nullptr;
    size_t size = 0;
  };
  std::unique_ptr<impl> pimpl;

  // Beyond upstream: how the region is backed, its slot, and in mirror
  // mode one base per node (replicas[0] == addr()).
  backing_kind backing = backing_kind::file;
  int slot = 0;
  size_t mapped_size = 0;  // bytes mapped (hugepage-rounded for hugetlbfs)
  std::vector<void*> replicas;
  std::vector<std::string> hugepage_files;
  bool leak = false;  // the leak fault: never unmapped, never reported destroyed

  size_t size() const { return pimpl->size; }
  void* addr() const { return pimpl->addr; }
  void unmap_fragment(size_t first, size_t last);
  ~llama_mmap();
};

struct llama_mlock {
  struct impl {
    void* addr = nullptr;
    size_t size = 0;
    bool failed_already = false;
  };
  std::unique_ptr<impl> pimpl;
  int slot = 0;

  void init(void* ptr) {
    pimpl->addr = ptr;
    pimpl->size = 0;
  }
  void grow_to(size_t target_size);
  ~llama_mlock();
};

using llama_files = std::vector<std::unique_ptr<llama_file>>;
using llama_mmaps = std::vector<std::unique_ptr<llama_mmap>>;
using llama_mlocks = std::vector<std::unique_ptr<llama_mlock>>;

struct llama_model_loader {
  struct llama_tensor_weight {
    uint16_t idx;  // file index
    size_t offs;   // absolute offset of the data in that file
    ggml_tensor* tensor;
  };

  int n_kv = 0;
  int n_tensors = 0;
  int n_created = 0;
  uint64_t n_elements = 0;
  size_t n_bytes = 0;
  bool use_mmap = true;
  bool use_direct_io = false;
  bool check_tensors = false;
  bool no_alloc = false;
  bool load_mtp = false;
  llama_files files;
  int ftype = 0;
  int fver = 3;
  llama_mmaps mappings;
  std::map<std::string, llama_tensor_weight> weights_map;
  std::string arch_name;
  size_t size_done = 0;
  size_t size_data = 0;
  std::vector<std::pair<size_t, size_t>> mmaps_used;

  // Beyond upstream.
  std::vector<ggml_tensor> tensors;
  llama_mlocks mlocks;
  std::vector<size_t> extent_offset;  // file idx -> offset in the unified region
};
