// Fuzz target: a flight recorder as read from a core or dumped by gdb, and
// what postmortem and `numa-trace diagnose` do with it: the header checks,
// the last events, and the verdict for each recorded thread (fault class,
// the resolve in flight through the rule engine, the findings' wording).
//
// The recorder is 1 MiB of mostly zeros, so the input is a patch list
// rather than the raw bytes (libFuzzer mutates small inputs far faster):
//   u64 fault address, u8 signal choice, then records of
//   u32 offset (taken modulo the recorder's size), u16 length, length bytes,
// applied in order to a zeroed recorder. tests/fuzz/seedconv.py encodes
// real recorders (dumped from the reference loader's cores) this way.
#include <algorithm>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "numatrace/postmortem/postmortem.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace numatrace;
  if (size < 9) return 0;
  static auto rec = std::make_unique<nt_flight_recorder>();  // large: allocated once
  std::memset(rec.get(), 0, sizeof *rec);
  auto* bytes = reinterpret_cast<unsigned char*>(rec.get());
  uint64_t fault = 0;
  std::memcpy(&fault, data, 8);
  static constexpr int kSignals[] = {0, SIGSEGV, SIGBUS, SIGABRT};
  const int signal = kSignals[data[8] % 4];
  for (size_t at = 9; size - at >= 6;) {
    uint32_t off;
    uint16_t len;
    std::memcpy(&off, data + at, 4);
    std::memcpy(&len, data + at + 4, 2);
    at += 6;
    off = static_cast<uint32_t>(off % sizeof *rec);
    size_t n = std::min<size_t>({len, size - at, sizeof *rec - off});
    std::memcpy(bytes + off, data + at, n);
    at += n;
  }
  // The checks every reader makes before trusting the tables.
  if (rec->magic != NT_FR_MAGIC || rec->version != NT_FR_VERSION || rec->size != sizeof *rec) return 0;
  (void)postmortem::last_events(*rec, 16);
  int judged = 0;
  for (const auto& t : rec->threads) {
    if (!t.tid || judged == 4) continue;
    ++judged;
    auto j = postmortem::judge(*rec, static_cast<int>(t.tid), signal, fault, " in fuzz");
    if (j.verdict.empty()) __builtin_trap();  // judge always says something
  }
  (void)postmortem::judge(*rec, 0, signal, fault, "");
  return 0;
}
