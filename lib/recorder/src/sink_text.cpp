// The stderr sink: a line per event, and the progress line on a terminal.
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "numatrace/codec.h"

#include "sinks_internal.h"

namespace numatrace::rec::sink {

void emit_text(int i, const nt_fr_event& e) {
  // Findings were printed when raised; resolves only with stderr:all.
  if (e.type == NT_EV_FINDING || (e.type == NT_EV_RESOLVE && !g_settings.sinks[i].all)) return;
  char line[768];
  rules::Buf b(line, sizeof line - 2);
  uint64_t ns = ns_of(e.tsc);
  b.s("numa-trace: +").u(ns / 1000000).c('.');
  uint64_t frac = (ns / 1000) % 1000;
  b.c(static_cast<char>('0' + frac / 100))
      .c(static_cast<char>('0' + frac / 10 % 10))
      .c(static_cast<char>('0' + frac % 10));
  b.s("ms ").s(type_name(e.type));
  if (e.slot >= 0) b.s(" slot ").i(e.slot);
  if (e.file_idx >= 0) b.s(" file ").i(e.file_idx);
  switch (e.type) {
    case NT_EV_MODEL_BEGIN: b.s(" ").s(path_of(e.d)).s(" (").u(e.a).s(" files)"); break;
    case NT_EV_FILE_OPEN: b.s(" ").s(path_of(e.d)).s(" (").u(e.a).s(" bytes)"); break;
    case NT_EV_CREATE:
      b.s(" ").s(format::kind_name(format::create_kind(e))).s(" base ").x(e.a).s(" length ").x(e.b);
      if (e.node >= 0) b.s(" node ").i(e.node);
      break;
    case NT_EV_EXTENT: b.s(" at +").x(e.a).s(" length ").x(e.b); break;
    case NT_EV_RESOLVE:
      b.s(" '").sn(e.name, NT_FR_NAME).s("' offset ").x(e.a).s(" size ").u(e.b).s(" at ").x(e.c);
      b.s(" cpu ").i(e.cpu).s(" node ").i(e.node);
      break;
    case NT_EV_UNMAP: b.s(" ").x(e.a).s(" length ").x(e.b); break;
    case NT_EV_DESTROY: b.s(" base ").x(e.a); break;
    case NT_EV_MLOCK_GROW: b.s(" ").x(e.a).s(" size ").u(e.b); break;
    case NT_EV_PLACEMENT: {
      b.s(" sampled ").u(e.a).s(" absent ").u(e.b).s(" nodes");
      for (int n = 0; n < NT_FR_MAX_NODES; ++n)
        if (const uint32_t c = format::placement_pages(e, n)) b.s(" ").i(n).c(':').u(c);
      break;
    }
    case NT_EV_CRASH: b.s(" signal ").u(e.a).s(" at ").x(e.b); break;
    case NT_EV_UNIFIED_TEST: b.s(" answer ").u(e.a); break;
    case NT_EV_READ:
      b.s(" offset ").x(e.a).s(" length ").u(e.b).s(" into ").x(e.c).s(" page node ").i(e.page_node);
      break;
  }
  size_t n = b.size();
  line[n++] = '\n';
  put(i, line, n);
}

// Progress: bytes resolved of the model's total, per node of the
// resolving thread, redrawn at most every 200 ms on one stderr line.
struct ProgressState {
  uint64_t total = 0, done = 0, per_node[NT_FR_MAX_NODES] = {};
  uint64_t last_draw_ns = 0;
  bool drawn = false, finished = false;
};
ProgressState g_progress;

void reset_progress() {
  g_progress = ProgressState{};
}

void draw_progress(bool final) {
  ProgressState& p = g_progress;
  char line[256];
  rules::Buf b(line, sizeof line - 2);
  b.s("\rnuma-trace: resolved ").u(p.done >> 20).s(" of ").u(p.total >> 20).s(" MiB");
  if (p.total) b.s(" (").u(p.done * 100 / p.total).s("%)");
  for (int n = 0; n < NT_FR_MAX_NODES; ++n)
    if (p.per_node[n]) b.s("  node").i(n).c(' ').u(p.per_node[n] >> 20).s(" MiB");
  b.s("\033[K");
  size_t n = b.size();
  if (final) line[n++] = '\n';
  write_stderr(line, n);
  p.drawn = !final;
}

void track_progress(const nt_fr_event& e, bool from_signal) {
  ProgressState& p = g_progress;
  if (p.finished) return;
  if (e.type == NT_EV_FILE_OPEN) p.total += e.a;
  if (e.type == NT_EV_RESOLVE) {
    p.done += e.b;
    if (e.node >= 0 && e.node < NT_FR_MAX_NODES) p.per_node[e.node] += e.b;
  }
  if (e.type == NT_EV_MODEL_END || e.type == NT_EV_CRASH) {
    if (p.drawn || e.type == NT_EV_MODEL_END) draw_progress(true);
    p.finished = true;
    return;
  }
  if (e.type == NT_EV_RESOLVE && !from_signal) {
    uint64_t now = ns_of(e.tsc);
    if (now - p.last_draw_ns > 200ull * 1000 * 1000) {
      p.last_draw_ns = now;
      draw_progress(false);
    }
  }
}

}  // namespace numatrace::rec::sink
