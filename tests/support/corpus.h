// A corpus of malformed GGUF models, each with the code the reader must
// report. Used by the GoogleTest suite (through the library) and by
// tests/cli/inspect_corpus.sh (through `numa-trace inspect`).
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "numatrace/gguf/writer.h"

namespace numatrace::test {

struct CorpusFile {
  std::string name;  // file name inside the case's directory
  std::vector<std::byte> bytes;
};

struct CorpusCase {
  std::string name;           // short id, also the directory name
  std::string expected_code;  // GGnnn
  std::string open;           // which file to hand to open_model / inspect
  std::vector<CorpusFile> files;
};

// A small valid split model (3 files, a few tensors each) as FileSpecs; the
// corpus mutates it.
std::vector<gguf::FileSpec> small_model_specs(unsigned splits = 3);
std::vector<std::byte> bytes_of(const gguf::FileSpec& spec);

std::vector<CorpusCase> malformed_corpus();
void PrintTo(const CorpusCase& c, std::ostream* os);  // for GoogleTest's parameter names

// Writes each case under dir/<case name>/; returns false on I/O failure.
bool write_corpus(const std::string& dir, const std::vector<CorpusCase>& cases);

}  // namespace numatrace::test
