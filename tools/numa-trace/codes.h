// Stable error codes of the command's own inputs (docs/numa-trace.md):
// `diagnose`'s facts and recorder dumps, `journal`. The libraries' codes
// are in gguf/codes.h (GG), postmortem/codes.h (PM), trace/codes.h (TR).
// Never renumber or reuse a code; add new ones at the end.
#pragma once

namespace numatrace::cli::code {
inline constexpr char facts_io[] = "DG001";          // a facts or recorder file cannot be opened
inline constexpr char facts_json[] = "DG002";        // the facts are not JSON
inline constexpr char facts_incomplete[] = "DG003";  // the facts lack a field, or hold too many slots
inline constexpr char recorder_dump[] = "DG004";     // a recorder dump that is not one
inline constexpr char journal[] = "JR001";           // the journal cannot be opened or read
}  // namespace numatrace::cli::code
