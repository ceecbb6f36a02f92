// The reference loader: loads a multi-part GGUF model the way llama.cpp's
// loader does (docs/llama-loader.md), with its mapping strategies and, on
// request, each of its known failure modes. It is the subject numa-trace is
// shown and tested on. Its types carry the upstream names and member order
// (llama_file, llama_mmap, llama_mlock, llama_model_loader) so that the gdb
// extension and the post-mortem tools can be tested against it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "numatrace/gguf/model.h"

namespace numatrace::loader {

using Strategy = gguf::Strategy;
using gguf::parse_strategy;
using gguf::strategy_name;

// One per failure mode of docs/llama-loader.md; docs/loader.md names the finding
// numa-trace reports for each.
enum class Fault {
  none,
  null_slot,        // unified: resolve through mappings[weight.idx] (NT001, SIGSEGV)
  offset_drift,     // packed offsets over a page-aligned region, or the reverse (NT002)
  mlock_null_slot,  // unified + --mlock: grow mlocks[weight.idx] (NT014, SIGSEGV)
  same_object,      // "all mappings the same object?" false, falls through to at(idx) (NT010, NT001, SIGSEGV)
  partial_unmap,    // unmap_fragment on the unified region, then a read there (NT005, SIGSEGV)
  stale_copy,       // a stale hugepage file (or region) reused without copying (NT011)
  fixed_collision,  // the fixed address is taken (NT012)
  wrong_replica,    // mirror: threads read another node's replica (NT008; needs 2 nodes)
  misbind,          // mirror: every replica bound to node 0 (NT009; needs 2 nodes)
  leak,             // mappings never destroyed (NT007 at exit)
  worker_crash,     // a loading thread dereferences a null pointer mid-load (SIGSEGV, no finding)
};

struct Options {
  std::string model;  // any split's path or the prefix
  Strategy strategy = Strategy::per_file;
  Fault fault = Fault::none;
  bool prefetch = true;       // MAP_POPULATE + WILLNEED (off with NUMA, as upstream)
  bool page_aligned = false;  // unified: files start on page boundaries
  bool mlock = false;
  bool verify = false;  // compare every tensor's bytes with the generated contents
  bool copy = false;    // copy each tensor to a buffer (else touch its bytes)
  bool quiet = false;
  unsigned threads = 4;
  std::string hugetlbfs;       // unified/mirror backing directory (hugetlbfs mount), empty = anonymous
  bool fixed_address = false;  // request 0x200000000000 + node * 0x200000000000
  bool hold = false;           // after the load, print "ready" and wait for SIGINT/SIGTERM before freeing the model
};

bool parse_fault(std::string_view s, Fault& out);
const char* fault_name(Fault f);

// Exit codes: 0 loaded (and verified), 1 verification failed or the load
// was refused (e.g. fixed address taken), 2 usage, model or I/O error.
int run(const Options& options);

}  // namespace numatrace::loader
