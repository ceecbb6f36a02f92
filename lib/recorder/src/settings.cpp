// NUMA_TRACE's syntax: the sinks and options a traced process is given
// (docs/recorder.md).
#include <cstring>

#include "internal.h"

namespace numatrace::rec {

int parse_settings(const char* spec, Settings& out) {
  out = Settings{};
  const char* p = spec;
  while (*p) {
    const char* end = p;
    while (*end && *end != ',') ++end;
    size_t n = static_cast<size_t>(end - p);
    auto is = [&](const char* w) { return std::strlen(w) == n && std::strncmp(p, w, n) == 0; };
    auto prefix = [&](const char* w) { return n > std::strlen(w) && std::strncmp(p, w, std::strlen(w)) == 0; };
    auto add = [&](SinkKind k, const char* path, size_t len, bool all) {
      if (out.n_sinks >= kMaxSinks || len >= sizeof out.sinks[0].path) return false;
      SinkSpec& s = out.sinks[out.n_sinks++];
      s.kind = k;
      s.all = all;
      std::memcpy(s.path, path, len);
      s.path[len] = 0;
      return true;
    };
    if (n == 0) {
    } else if (is("strict")) {
      out.strict = true;
    } else if (is("quiet")) {
      out.quiet = true;
    } else if (is("keep-dump")) {
      out.keep_dump = true;
    } else if (is("no-verify")) {
      out.verify = false;
    } else if (is("progress")) {
      out.progress = true;
    } else if (is("clock=tsc")) {
      out.precise_clock = true;
    } else if (is("clock=coarse")) {
      out.precise_clock = false;
    } else if (prefix("remote=")) {
      uint32_t v = 0;
      for (const char* c = p + 7; c < end; ++c) {
        if (*c < '0' || *c > '9' || v > 100) return -1;
        v = v * 10 + static_cast<uint32_t>(*c - '0');
      }
      if (v > 100) return -1;
      out.remote_pct = v;
    } else if (prefix("cpu=")) {
      uint8_t k = 1;  // "none" is not a word
      while (k < std::size(kCpuSourceNames) &&
             !(std::strlen(kCpuSourceNames[k]) == n - 4 && std::strncmp(p + 4, kCpuSourceNames[k], n - 4) == 0))
        ++k;
      if (k == std::size(kCpuSourceNames)) return -1;
      out.cpu_source = static_cast<CpuSource>(k);
    } else if (is("stderr") || is("stderr:all")) {
      if (!add(SinkKind::text, "", 0, n > 6)) return -1;
    } else if (is("journal") || is("journal:all")) {
      if (!add(SinkKind::journal, "", 0, n > 7)) return -1;
    } else if (prefix("file:")) {
      if (!add(SinkKind::binary, p + 5, n - 5, false)) return -1;
    } else if (prefix("jsonl:")) {
      if (!add(SinkKind::jsonl, p + 6, n - 6, false)) return -1;
    } else {
      return -1;
    }
    p = *end ? end + 1 : end;
  }
  return 0;
}

std::atomic<bool> g_sinks_pending{false};

}  // namespace numatrace::rec
