// Finding codes NT001..: stable, never renumbered or reused (docs/findings.md).
// Usable in-process: constexpr tables, no allocation.
#pragma once

#include <cstdint>

namespace numatrace::model {

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
};
inline constexpr uint16_t kMaxCode = 13;

struct CodeInfo {
  const char* id;       // "NT001"
  Severity severity;
  const char* title;    // what happened, short
  const char* journal_message_id;  // 128-bit id for the journal (issue: journal sink)
};

inline const CodeInfo& code_info(uint16_t code) {
  static constexpr CodeInfo kTable[kMaxCode + 1] = {
      {"NT000", kInfo, "unknown finding", "00000000000000000000000000000000"},
      {"NT001", kError, "resolve through an empty slot", "5e1c0a7d3b2f4c1e9a60d2b8f4e71c01"},
      {"NT002", kError, "resolved address disagrees with the layout (offset drift)", "5e1c0a7d3b2f4c1e9a60d2b8f4e71c02"},
      {"NT003", kError, "resolve outside the file's extent or the mapping", "5e1c0a7d3b2f4c1e9a60d2b8f4e71c03"},
      {"NT004", kError, "resolve into an unmapped or destroyed range", "5e1c0a7d3b2f4c1e9a60d2b8f4e71c04"},
      {"NT005", kWarning, "partial unmap of a unified or replica mapping", "5e1c0a7d3b2f4c1e9a60d2b8f4e71c05"},
      {"NT006", kError, "double destroy or destroy of an unknown mapping", "5e1c0a7d3b2f4c1e9a60d2b8f4e71c06"},
      {"NT007", kWarning, "mapping alive at exit, or slot reused without destroy", "5e1c0a7d3b2f4c1e9a60d2b8f4e71c07"},
      {"NT008", kWarning, "thread read a replica of another node", "5e1c0a7d3b2f4c1e9a60d2b8f4e71c08"},
      {"NT009", kWarning, "replica pages not on the replica's node", "5e1c0a7d3b2f4c1e9a60d2b8f4e71c09"},
      {"NT010", kError, "the loader's unified test disagrees with what was created", "5e1c0a7d3b2f4c1e9a60d2b8f4e71c0a"},
      {"NT011", kError, "mapping data differs from the file", "5e1c0a7d3b2f4c1e9a60d2b8f4e71c0b"},
      {"NT012", kError, "fixed-address request not honoured or colliding", "5e1c0a7d3b2f4c1e9a60d2b8f4e71c0c"},
      {"NT013", kError, "the traced process crashed", "5e1c0a7d3b2f4c1e9a60d2b8f4e71c0d"},
  };
  return kTable[code <= kMaxCode ? code : 0];
}

}  // namespace numatrace::model
