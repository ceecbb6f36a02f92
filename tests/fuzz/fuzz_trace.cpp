// Fuzz target: a binary trace (numatrace::trace::parse_trace), then what
// `numa-trace report` does with it: every event replayed through the rule
// engine and every finding worded.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "numatrace/rules/replay.h"
#include "numatrace/trace/reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace numatrace;
  auto t = trace::parse_trace({reinterpret_cast<const char*>(data), size}, "fuzz.nttrace");
  if (!t) return 0;
  (void)t->ns(t->header.tsc0 + 1000);
  static auto tables = std::make_unique<rules::Recorder>();  // large: allocated once
  rules::Replayer replay(*tables);
  char text[768];
  auto word = [&](const nt_fr_finding& f) { rules::format_finding(replay.tables(), f, text, sizeof text); };
  for (const auto& e : t->events) replay.feed(e, word);
  replay.finish(word);
  for (const auto& f : t->findings) rules::format_finding(replay.tables(), f.finding, text, sizeof text);
  return 0;
}
