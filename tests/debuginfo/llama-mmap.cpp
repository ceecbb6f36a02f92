// The impl types, member for member in upstream's POSIX order
// (docs/llama-loader.md), and the methods the loader calls.
#include "llama-mmap.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

struct llama_file::impl {
  impl(const char* fname, const char* mode) : fname(fname) {
    fp = std::fopen(fname, mode);
    if (!fp) throw std::runtime_error(std::string("failed to open ") + fname + ": " + std::strerror(errno));
    std::fseek(fp, 0, SEEK_END);
    size = static_cast<size_t>(std::ftell(fp));
    std::fseek(fp, 0, SEEK_SET);
  }
  ~impl() {
    if (fp && owns_fp) std::fclose(fp);
  }

  int fd = -1;
  std::string fname;
  size_t alignment = 1;
  FILE* fp = nullptr;
  size_t size = 0;
  bool owns_fp = true;
};

llama_file::llama_file(const char* fname, const char* mode) : pimpl(std::make_unique<impl>(fname, mode)) {}
llama_file::~llama_file() = default;
size_t llama_file::tell() const {
  return static_cast<size_t>(std::ftell(pimpl->fp));
}
size_t llama_file::size() const {
  return pimpl->size;
}
int llama_file::file_id() const {
  return fileno(pimpl->fp);
}
void llama_file::read_raw(void* ptr, size_t len) const {
  if (std::fread(ptr, 1, len, pimpl->fp) != len) throw std::runtime_error("read error");
}

struct llama_mmap::impl {
  impl(llama_file* file, size_t prefetch) {
    size = file->size();
    int flags = MAP_SHARED;
    if (prefetch) flags |= MAP_POPULATE;
    addr = mmap(nullptr, file->size(), PROT_READ, flags, file->file_id(), 0);
    if (addr == MAP_FAILED) throw std::runtime_error(std::string("mmap failed: ") + std::strerror(errno));
    mapped_fragments.emplace_back(0, file->size());
  }
  ~impl() {
    for (const auto& frag : mapped_fragments) munmap(static_cast<char*>(addr) + frag.first, frag.second - frag.first);
  }

  std::vector<std::pair<size_t, size_t>> mapped_fragments;
  void* addr;
  size_t size;
};

llama_mmap::llama_mmap(llama_file* file, size_t prefetch, bool) : pimpl(std::make_unique<impl>(file, prefetch)) {}
llama_mmap::~llama_mmap() = default;
size_t llama_mmap::size() const {
  return pimpl->size;
}
void* llama_mmap::addr() const {
  return pimpl->addr;
}
void llama_mmap::unmap_fragment(size_t, size_t) {}
const bool llama_mmap::SUPPORTED = true;

struct llama_mlock::impl {
  void* addr = nullptr;
  size_t size = 0;
  bool failed_already = false;
};

llama_mlock::llama_mlock() : pimpl(std::make_unique<impl>()) {}
llama_mlock::~llama_mlock() = default;
void llama_mlock::init(void* ptr) {
  pimpl->addr = ptr;
  pimpl->size = 0;
}
void llama_mlock::grow_to(size_t target_size) {
  // Counted, not locked: the test machine's RLIMIT_MEMLOCK is not the point.
  if (target_size > pimpl->size) pimpl->size = target_size;
}
const bool llama_mlock::SUPPORTED = true;
