// Stable error codes of the trace reader (docs/numa-trace.md, "report").
// Never renumber or reuse a code; add new ones at the end.
#pragma once

namespace numatrace::trace::code {
inline constexpr char io[] = "TR001";          // cannot open or read
inline constexpr char not_trace[] = "TR002";   // too short, or not a trace's magic
inline constexpr char version[] = "TR003";     // trace or recorder layout version not known
inline constexpr char layout[] = "TR004";      // header or event size disagrees with this build
inline constexpr char cut_short[] = "TR005";   // a record runs past the end
inline constexpr char bad_record[] = "TR006";  // a known record with the wrong length
}  // namespace numatrace::trace::code
