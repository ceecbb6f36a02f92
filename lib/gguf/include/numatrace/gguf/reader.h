// Reading GGUF files. Everything read from a file is untrusted: every count
// and length is checked against the bytes that remain before it is used, and
// nothing is allocated in proportion to a header field alone.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "numatrace/gguf/types.h"
#include "numatrace/result.h"

namespace numatrace::gguf {

// A read-only private mapping of a whole file (RAII).
class MappedFile {
 public:
  static Result<MappedFile> open(const std::string& path);
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const std::byte> bytes() const { return {static_cast<const std::byte*>(addr_), size_}; }

 private:
  MappedFile(void* addr, size_t size) : addr_(addr), size_(size) {}
  void* addr_ = nullptr;
  size_t size_ = 0;
};

// Parse and validate one GGUF file held in memory. `path` only names the file
// in errors. Checks everything that can be checked within one file.
Result<FileInfo> parse(std::span<const std::byte> bytes, const std::string& path);

// mmap `path` and parse it.
Result<FileInfo> read_file(const std::string& path);

}  // namespace numatrace::gguf
