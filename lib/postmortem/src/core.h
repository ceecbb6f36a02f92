// An ELF core, opened for reading without trusting it.
#pragma once

#include <gelf.h>
#include <libelf.h>

#include <cstdint>
#include <string>
#include <vector>

#include "numatrace/postmortem/postmortem.h"

namespace numatrace::postmortem {

struct Segment {
  uint64_t vaddr, memsz, offset, filesz;
  uint32_t flags;
};

class Core {
 public:
  // Opens `path`; a zstd-compressed core is decompressed, streaming, into an
  // unlinked temporary file first.
  static Result<std::unique_ptr<Core>> open(const std::string& path);
  ~Core();

  Elf* elf() const { return elf_; }
  int fd() const { return fd_; }
  uint64_t file_size() const { return size_; }
  const std::vector<Segment>& loads() const { return loads_; }

  // Reads process memory at `addr` from the core; false where the core does
  // not hold it (not dumped, or the core is truncated there).
  bool read(uint64_t addr, void* out, size_t len) const;
  // The core's bytes for [addr, addr + len) if dumped contiguously, else null.
  const unsigned char* view(uint64_t addr, size_t len) const;

  // Notes.
  int signal = 0, si_code = 0, first_tid = 0;
  uint64_t fault_address = 0;
  bool have_siginfo = false;
  std::vector<MappedFile> nt_file;  // every file mapping
  std::string execfn;               // AT_EXECFN from the auxv, if present
  std::vector<Warning> warnings;

 private:
  Core() = default;
  Status parse(const std::string& path);
  void parse_notes(const std::string& path, const unsigned char* data, size_t size);

  int fd_ = -1;
  Elf* elf_ = nullptr;
  uint64_t size_ = 0;
  const unsigned char* map_ = nullptr;  // the whole file, read-only
  std::vector<Segment> loads_;
  uint64_t execfn_addr_ = 0;
};

// The flight recorder in a core (analyze.cpp). take_recorder: the one at
// `addr` (found by `how`: "symbol", "magic scan"), checked (magic, version,
// size, wholly dumped) and copied into r.recorder, or r.recorder_error says
// why not. scan_recorder: the first one found by its magic in a writable
// segment, for cores whose libnumatrace symbols cannot be read.
bool take_recorder(const Core& core, uint64_t addr, const char* how, Report& r);
bool scan_recorder(const Core& core, Report& r);

}  // namespace numatrace::postmortem
