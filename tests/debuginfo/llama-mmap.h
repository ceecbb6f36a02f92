// llama_file, llama_mmap and llama_mlock as upstream declares them: one
// pimpl member each, the impl types defined only in llama-mmap.cpp. In
// every other translation unit (the loader's) they are incomplete, so a
// debugger must find their definitions in another compile unit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

struct llama_file {
  llama_file(const char* fname, const char* mode);
  ~llama_file();

  size_t tell() const;
  size_t size() const;
  int file_id() const;
  void read_raw(void* ptr, size_t len) const;

  struct impl;
  std::unique_ptr<impl> pimpl;
};

struct llama_mmap {
  llama_mmap(const llama_mmap&) = delete;
  llama_mmap(llama_file* file, size_t prefetch = (size_t)-1, bool numa = false);
  ~llama_mmap();

  size_t size() const;
  void* addr() const;
  void unmap_fragment(size_t first, size_t last);

  static const bool SUPPORTED;

  struct impl;
  std::unique_ptr<impl> pimpl;
};

struct llama_mlock {
  llama_mlock();
  ~llama_mlock();

  void init(void* ptr);
  void grow_to(size_t target_size);

  static const bool SUPPORTED;

  struct impl;
  std::unique_ptr<impl> pimpl;
};

using llama_files = std::vector<std::unique_ptr<llama_file>>;
using llama_mmaps = std::vector<std::unique_ptr<llama_mmap>>;
using llama_mlocks = std::vector<std::unique_ptr<llama_mlock>>;
