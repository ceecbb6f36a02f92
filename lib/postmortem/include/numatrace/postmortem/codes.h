// Stable error and warning codes of the post-mortem layer (docs/postmortem.md,
// "Exit status and errors"). Never renumber or reuse a code; add new ones at
// the end.
#pragma once

namespace numatrace::postmortem::code {
inline constexpr char io[] = "PM001";             // cannot open, read or map the core (or write a copy)
inline constexpr char not_core[] = "PM002";       // not an ELF core, or its headers are wrong
inline constexpr char truncated[] = "PM003";      // warning: the core was cut short
inline constexpr char architecture[] = "PM004";   // not an x86-64 core
inline constexpr char corrupt_notes[] = "PM005";  // warning: a note runs past its bounds
inline constexpr char zstd[] = "PM006";           // a .zst core that does not decompress
inline constexpr char build_id[] = "PM007";       // a module is not the file the process ran
inline constexpr char journal[] = "PM008";        // the journal cannot be read or written
inline constexpr char no_core[] = "PM009";        // systemd-coredump holds no core that matches
// Raised by the command's sandbox around the decoder (tools/numa-trace/sandbox.cpp).
inline constexpr char decoder_died[] = "PM010";     // the decoder died (a signal, a sanitizer)
inline constexpr char decoder_stopped[] = "PM011";  // the decoder ran out of time and was stopped
inline constexpr char decoder_start[] = "PM012";    // the decoder could not be started
}  // namespace numatrace::postmortem::code
