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
  NT014 = 14,  // mlock slot grow through an empty slot
};
inline constexpr uint16_t kMaxCode = 14;

struct CodeInfo {
  const char* id;  // "NT001"
  Severity severity;
  const char* title;               // what happened, short
  const char* journal_message_id;  // 128-bit id for the journal (issue: journal sink)
};

inline const CodeInfo& code_info(uint16_t code) {
  static constexpr CodeInfo kTable[kMaxCode + 1] = {
      {"NT000", kInfo, "unknown finding", "00000000000000000000000000000000"},
      {"NT001", kError, "resolve through an empty slot", "cc37bae1c52442c9be73391648ac3d13"},
      {"NT002", kError, "resolved address disagrees with the layout (offset drift)",
       "305502fa21f047a3af944f16b3861f62"},
      {"NT003", kError, "resolve outside the file's extent or the mapping", "1eb02469ec8d4c25b7c37056428b109b"},
      {"NT004", kError, "resolve into an unmapped or destroyed range", "863295ce522543d7b18d6367b769646e"},
      {"NT005", kWarning, "partial unmap of a unified or replica mapping", "291a53a4f2b64fcc811f3c830378afbf"},
      {"NT006", kError, "double destroy or destroy of an unknown mapping", "b495c38a685041a0a7b83fae38351b52"},
      {"NT007", kWarning, "mapping alive at exit, or slot reused without destroy", "23ae8983189741d899f1a32f66f6eeb9"},
      {"NT008", kWarning, "thread read a replica of another node", "316340b6a58247f69f464e5d727af5f8"},
      {"NT009", kWarning, "replica pages not on the replica's node", "75680b1c357e4ede9b0ca4e6c6140e5d"},
      {"NT010", kError, "the loader's unified test disagrees with what was created",
       "d51214822e0549818343abf76d1278e6"},
      {"NT011", kError, "mapping data differs from the file", "99ce0bea7b40470285c5e57e36df578f"},
      {"NT012", kError, "fixed-address request not honoured or colliding", "7fcfbd219f3c4ae19e29f6d962634f08"},
      {"NT013", kError, "the traced process crashed", "535c59e916394518bbe4df36c0605031"},
      {"NT014", kError, "mlock slot grow through an empty slot", "93150aa39bad49898a456d7f96bb85b5"},
  };
  return kTable[code <= kMaxCode ? code : 0];
}

}  // namespace numatrace::model
