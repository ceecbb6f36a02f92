// Finding codes NT001..: stable, never renumbered or reused (docs/findings.md).
// Usable in-process: constexpr tables, no allocation.
#pragma once

#include <cstdint>

namespace numatrace::rules {

// kInfo is advice (NT015): the load works, and could be faster.
enum Severity : uint16_t { kInfo = 0, kWarning = 1, kError = 2 };

enum Code : uint16_t {
  NT001 = 1,   // resolve through an empty (null) slot
  NT002 = 2,   // resolved address disagrees with the recorded layout (offset drift)
  NT003 = 3,   // resolve outside the file's extent or the mapping
  NT004 = 4,   // resolve into an unmapped or destroyed range
  NT005 = 5,   // partial unmap of a unified or replica mapping
  NT006 = 6,   // double destroy, or destroy of an unknown mapping
  NT007 = 7,   // mapping alive at exit, or slot reused without destroy
  NT008 = 8,   // thread read a replica of another node
  NT009 = 9,   // replica pages not on the replica's node
  NT010 = 10,  // the loader's "is unified" test disagrees with what was created
  NT011 = 11,  // mapping data differs from the file
  NT012 = 12,  // fixed-address request not honoured or colliding
  NT013 = 13,  // crash (signal) in the traced process
  NT014 = 14,  // mlock slot grow through an empty slot
  NT015 = 15,  // advice: threads resolved bytes that live on another node (remote reads)
};
inline constexpr uint16_t kMaxCode = 15;

struct CodeInfo {
  const char* id;  // "NT001"
  Severity severity;
  const char* title;               // what happened, short
  const char* journal_message_id;  // MESSAGE_ID of its journal entries
  const char* explanation;         // cause and fix, for the journal catalog (docs/findings.md has more)
};

inline const CodeInfo& code_info(uint16_t code) {
  static constexpr CodeInfo kTable[kMaxCode + 1] = {
      {"NT000", kInfo, "unknown finding", "00000000000000000000000000000000", ""},
      {"NT001", kError, "resolve through an empty slot", "cc37bae1c52442c9be73391648ac3d13",
       "The loader resolved a tensor of file N through mapping slot N, but that slot holds no mapping. In unified or "
       "NUMA-mirror mode the whole model lives in slot 0 and slots 1..N-1 are null, so the next instruction "
       "dereferences a null pointer. Fix: resolve through the slot that holds the file (slot 0), at the file's offset "
       "inside the unified region."},
      {"NT002", kError, "resolved address disagrees with the layout (offset drift)", "305502fa21f047a3af944f16b3861f62",
       "The address the loader computed differs from the mapping base plus the file's recorded extent plus the tensor "
       "offset: typically the packed sum of file sizes used over a page-aligned region. The tensor silently reads "
       "another tensor's bytes. Fix: compute the address from the recorded extent."},
      {"NT003", kError, "resolve outside the file's extent or the mapping", "1eb02469ec8d4c25b7c37056428b109b",
       "The resolved range reaches past the file's extent, the mapping or the file, or the unified mapping has no "
       "extent for the file. Fix: check the tensor's offset and size against its file (numa-trace inspect --tensors)."},
      {"NT004", kError, "resolve into an unmapped or destroyed range", "863295ce522543d7b18d6367b769646e",
       "The resolved range lies in a destroyed mapping (a stale pointer) or in a range released by unmap_fragment. "
       "Fix: keep ranges mapped until every tensor in them is read."},
      {"NT005", kWarning, "partial unmap of a unified or replica mapping", "291a53a4f2b64fcc811f3c830378afbf",
       "unmap_fragment ran on a unified or replica mapping, which is freed whole by its destructor (hugetlbfs or "
       "numa_alloc memory); the partial munmap breaks that. Fix: skip unmap_fragment for unified and replica "
       "mappings."},
      {"NT006", kError, "double destroy or destroy of an unknown mapping", "b495c38a685041a0a7b83fae38351b52",
       "A mapping was destroyed twice, a destroy named a mapping never created, or an unmap hit no live mapping. Fix: "
       "free each mapping exactly once, through its owner."},
      {"NT007", kWarning, "mapping alive at exit, or slot reused without destroy", "23ae8983189741d899f1a32f66f6eeb9",
       "A slot was created again while its mapping was alive (the old one leaks), or mappings were alive at exit. Fix: "
       "destroy the old mapping first; free the model before exit."},
      {"NT008", kWarning, "thread read a replica of another node", "316340b6a58247f69f464e5d727af5f8",
       "In mirror mode a thread read the replica bound to another node: correct bytes, remote memory. Fix: each thread "
       "reads its own node's replica."},
      {"NT009", kWarning, "replica pages not on the replica's node", "75680b1c357e4ede9b0ca4e6c6140e5d",
       "Fewer than half of a replica's sampled pages are on its node (filled before being bound, or bound to the wrong "
       "node). Fix: bind the replica (mbind, numa_alloc_onnode) before filling it."},
      {"NT010", kError, "the loader's unified test disagrees with what was created", "d51214822e0549818343abf76d1278e6",
       "The loader's own unified test disagreed with what was created: inferring unified mode from null slots falls "
       "through to mappings.at(idx). Fix: record and test the kind that was created."},
      {"NT011", kError, "mapping data differs from the file", "99ce0bea7b40470285c5e57e36df578f",
       "A unified or replica mapping differs from its file: a stale hugepage file reused without copying, or a wrong "
       "copy. Fix: remove stale /dev/hugepages/llama-unified-* files, or always copy."},
      {"NT012", kError, "fixed-address request not honoured or colliding", "7fcfbd219f3c4ae19e29f6d962634f08",
       "A fixed address was requested and not honoured, or the range collides with a live mapping. Fix: check the "
       "result of mmap against the request, or choose a free range."},
      {"NT013", kError, "the traced process crashed", "535c59e916394518bbe4df36c0605031",
       "The traced process crashed; numa-trace postmortem decodes the core."},
      {"NT014", kError, "mlock slot grow through an empty slot", "93150aa39bad49898a456d7f96bb85b5",
       "With --mlock in unified mode the mlock slot parallel to an empty mapping slot is null, and growing it crashes. "
       "Fix: grow the mlock slot of the slot that holds the unified mapping."},
      {"NT015", kInfo, "threads read memory of another node (remote reads)", "9ae035ee05cd4744ab889811c5242222",
       "Advice. More of the bytes a load resolved than the threshold (60% unless set) lie on another NUMA node than "
       "the node of the thread that resolved them: correct bytes, read over the interconnect. The share is estimated "
       "from the sampled placement of each file's pages and the node of each resolving thread. Fix, by how the model "
       "is held: per-file mappings (the page cache): run the threads on the node that holds the pages (numactl "
       "--cpunodebind=N --membind=N; llama.cpp --numa numactl or isolate), or interleave them; a unified mapping: "
       "mirror mode (a replica per node) or interleave; replicas: each thread reads its own node's replica, bound "
       "before it is filled."},
  };
  return kTable[code <= kMaxCode ? code : 0];
}

// Advice (NT015) never counts as a problem, stops a strict run, or
// explains a crash.
inline bool is_advice(uint16_t code) {
  return code_info(code).severity == kInfo;
}

// MESSAGE_ID of the journal entries of each event type (findings use
// CodeInfo::journal_message_id). Stable, like the codes: the catalog
// (numa-trace.catalog) explains each.
inline const char* event_message_id(uint16_t type) {
  switch (type) {
    case 1: return "4ad2576b35a8401b92e9ae0e728473b0";   // model begin
    case 2: return "d678911804b6458184290fe0c119bf88";   // model end
    case 3: return "3602f0ea433b4ba6af55b63edc5c6f84";   // file open
    case 4: return "cd0352105e6e47a6a5b7114e17df983c";   // mapping create
    case 7: return "e9dc4a9bf80e476fb88503f1e4cdcdbb";   // unmap fragment
    case 8: return "0a80f24f17ff4822aa2894a2c9d53c5e";   // mapping destroy
    case 9: return "f38de97372fd4cf4b11406209ec626ad";   // mlock grow
    case 10: return "059e87952ee74462968ff467a6e06d07";  // placement sample
    case 12: return "4410d6a666b949eb843c79765cc03185";  // crash
    case 13: return "413a9e5e12fa4526ae203f446f3d4b14";  // unified test
    case 6: return "add7f95b6891477399bcf0f45658fa51";   // a resolve (journal:all)
  }
  return nullptr;
}
inline constexpr const char* kResolveSummaryMessageId =
    "87706d09aabf40ffa22343dc2faef31e";  // resolves of one file, aggregated
inline constexpr const char* kVerdictMessageId = "c11a7ac6be8c482094d5d55aa55de52e";  // numa-trace postmortem --journal

}  // namespace numatrace::rules
