#include <dlfcn.h>
#include <sys/uio.h>

#include <cstring>

#include "numatrace/codec.h"

#include "sinks_internal.h"

namespace numatrace::rec::sink {

// The journal sink.
// Entries go through sd_journal_sendv (async-signal-safe), looked up in
// libsystemd.so.0 with dlopen only when the journal sink is asked for, so a
// traced program without it loads nothing more. Findings and mapping events
// are one entry each; resolves are summed per file (and node) and written
// at model end, unless journal:all.

using sendv_t = int (*)(const struct iovec*, int);
sendv_t g_sendv = nullptr;

bool journal_open() {
  if (g_sendv) return true;
  void* h = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
  if (!h) return false;
  g_sendv = reinterpret_cast<sendv_t>(dlsym(h, "sd_journal_sendv"));
  return g_sendv != nullptr;
}

// One entry's fields, built in fixed buffers.
class Entry {
 public:
  template <class F>
  void field(const char* name, F&& fill) {
    if (n_ >= kMax) return;
    char* buf = bufs_[n_];
    rules::Buf b(buf, kLen);
    b.s(name).c('=');
    fill(b);
    // Journal field values are text here: control characters become '?'.
    for (size_t i = std::strlen(name) + 1; i < b.size(); ++i)
      if (static_cast<unsigned char>(buf[i]) < 0x20) buf[i] = '?';
    iov_[n_].iov_base = buf;
    iov_[n_].iov_len = b.size();
    ++n_;
  }
  void str(const char* name, const char* v) {
    field(name, [&](rules::Buf& b) { b.sn(v, kLen); });
  }
  void num(const char* name, int64_t v) {
    field(name, [&](rules::Buf& b) { b.i(v); });
  }
  void hex(const char* name, uint64_t v) {
    field(name, [&](rules::Buf& b) { b.x(v); });
  }
  int send() const { return g_sendv ? g_sendv(iov_, n_) : -1; }

 private:
  static constexpr int kMax = 20;
  static constexpr size_t kLen = 768;
  char bufs_[kMax][kLen];
  struct iovec iov_[kMax];
  int n_ = 0;
};

// One entry to the journal; the first failure turns the sink off, counted
// and said (sd_journal_sendv returns -errno).
void journal_send(int sink, const Entry& e) {
  if (int rc = e.send(); rc < 0 && !g_sinks[sink].failed) {
    g_sinks[sink].failed = true;
    __atomic_fetch_add(&fr().counters.sink_errors, 1, __ATOMIC_RELAXED);
    report_sink(g_settings.sinks[sink], "sd_journal_sendv failed", -rc);
  }
}

struct ResolveSum {
  uint64_t count[NT_FR_MAX_FILES] = {}, bytes[NT_FR_MAX_FILES] = {};
  uint64_t by_node[NT_FR_MAX_FILES][NT_FR_MAX_NODES] = {};
  bool any = false;
};
ResolveSum g_resolves;
// The model the entries belong to: the path of the last model_begin
// drained (its offset in the recorder's strings; 0 none yet), written as
// NUMA_TRACE_MODEL on every entry after it, so that a fleet's journal can
// be read by model (numa-trace journal --by model).
uint64_t g_model = 0;

void model_field(Entry& e) {
  if (g_model) e.str("NUMA_TRACE_MODEL", path_of(g_model));
}

void journal_common(Entry& e, const nt_fr_event& ev, const char* message_id, int priority) {
  e.str("MESSAGE_ID", message_id);
  e.num("PRIORITY", priority);
  e.str("SYSLOG_IDENTIFIER", "numa-trace");
  e.str("NUMA_TRACE", "1");
  e.str("NUMA_TRACE_EVENT", type_name(ev.type));
  e.num("NUMA_TRACE_SEQ", static_cast<int64_t>(ev.seq));
  if (ev.slot >= 0) e.num("NUMA_TRACE_SLOT", ev.slot);
  if (ev.file_idx >= 0) e.num("NUMA_TRACE_FILE_IDX", ev.file_idx);
  model_field(e);
}

void journal_resolve_summary(int sink) {
  if (!g_resolves.any) return;
  const Recorder& r = fr();
  for (int f = 0; f < NT_FR_MAX_FILES; ++f) {
    if (!g_resolves.count[f]) continue;
    Entry e;
    e.str("MESSAGE_ID", rules::kResolveSummaryMessageId);
    e.num("PRIORITY", 6);
    e.str("SYSLOG_IDENTIFIER", "numa-trace");
    e.str("NUMA_TRACE", "1");
    e.str("NUMA_TRACE_EVENT", "resolve_summary");
    e.num("NUMA_TRACE_FILE_IDX", f);
    model_field(e);
    e.num("NUMA_TRACE_RESOLVES", static_cast<int64_t>(g_resolves.count[f]));
    e.num("NUMA_TRACE_BYTES", static_cast<int64_t>(g_resolves.bytes[f]));
    e.field("NUMA_TRACE_NODES", [&](rules::Buf& b) {
      for (int n = 0; n < NT_FR_MAX_NODES; ++n)
        if (g_resolves.by_node[f][n]) b.s("node").i(n).c(':').u(g_resolves.by_node[f][n]).c(' ');
    });
    e.field("MESSAGE", [&](rules::Buf& b) {
      b.s("numa-trace: ");
      rules::file_of(r, b, f);
      b.s(": ").u(g_resolves.count[f]).s(" tensors resolved, ").u(g_resolves.bytes[f]).s(" bytes");
    });
    journal_send(sink, e);
  }
  g_resolves = ResolveSum{};
}

void emit_journal(int sink, const nt_fr_event& ev) {
  const SinkSpec& spec = g_settings.sinks[sink];
  if (ev.type == NT_EV_EXTENT) return;
  if (ev.type == NT_EV_RESOLVE && !spec.all) {
    if (ev.file_idx >= 0 && ev.file_idx < NT_FR_MAX_FILES) {
      g_resolves.count[ev.file_idx]++;
      g_resolves.bytes[ev.file_idx] += ev.b;
      if (ev.node >= 0 && ev.node < NT_FR_MAX_NODES) g_resolves.by_node[ev.file_idx][ev.node]++;
      g_resolves.any = true;
    }
    return;
  }
  if (ev.type == NT_EV_MODEL_END) journal_resolve_summary(sink);
  if (ev.type == NT_EV_MODEL_BEGIN) g_model = ev.d;
  Entry e;
  const Recorder& r = fr();
  if (ev.type == NT_EV_FINDING) {
    const rules::CodeInfo& ci = rules::code_info(ev.flags);
    journal_common(e, ev, ci.journal_message_id,
                   ci.severity == rules::kError     ? 3
                   : ci.severity == rules::kWarning ? 4
                                                    : 6);
    e.str("NUMA_TRACE_CODE", ci.id);
    e.hex("NUMA_TRACE_OFFSET", ev.a);
    if (ev.name[0]) e.str("NUMA_TRACE_TENSOR", ev.name);
    if (const nt_fr_finding* f = finding_of(ev)) {
      if (f->node >= 0) e.num("NUMA_TRACE_NODE", f->node);
      if (f->related_slot >= 0) e.num("NUMA_TRACE_RELATED_SLOT", f->related_slot);
      e.field("MESSAGE", [&](rules::Buf& b) {
        char msg[700];
        rules::format_finding(r, *f, msg, sizeof msg);
        b.s("numa-trace: ").s(msg);
      });
    } else {
      e.field("MESSAGE", [&](rules::Buf& b) { b.s("numa-trace: ").s(ci.id).c(' ').s(ci.title); });
    }
  } else {
    const char* id = rules::event_message_id(ev.type);
    if (!id) return;
    journal_common(e, ev, id, ev.type == NT_EV_CRASH ? 2 : ev.type == NT_EV_RESOLVE ? 7 : 6);
    if (ev.node >= 0) e.num("NUMA_TRACE_NODE", ev.node);
    switch (ev.type) {
      case NT_EV_CREATE:
        e.str("NUMA_TRACE_KIND", format::kind_name(format::create_kind(ev)));
        e.hex("NUMA_TRACE_BASE", ev.a);
        e.num("NUMA_TRACE_LENGTH", static_cast<int64_t>(ev.b));
        break;
      case NT_EV_RESOLVE:
        e.str("NUMA_TRACE_TENSOR", ev.name);
        e.hex("NUMA_TRACE_OFFSET", ev.a);
        break;
      case NT_EV_UNMAP:
      case NT_EV_DESTROY: e.hex("NUMA_TRACE_BASE", ev.a); break;
      case NT_EV_FILE_OPEN:
      case NT_EV_MODEL_BEGIN: e.str("NUMA_TRACE_PATH", path_of(ev.d)); break;
      case NT_EV_CRASH:
        e.num("NUMA_TRACE_SIGNAL", static_cast<int64_t>(ev.a));
        e.hex("NUMA_TRACE_FAULT_ADDRESS", ev.b);
        break;
      default: break;
    }
    // The same line the stderr sink prints, without its time prefix.
    e.field("MESSAGE", [&](rules::Buf& b) {
      b.s("numa-trace: ").s(type_name(ev.type));
      if (ev.slot >= 0) b.s(" slot ").i(ev.slot);
      if (ev.file_idx >= 0) b.s(" file ").i(ev.file_idx);
      if (ev.type == NT_EV_CREATE)
        b.s(" ").s(format::kind_name(format::create_kind(ev))).s(" base ").x(ev.a).s(" length ").x(ev.b);
      if (ev.type == NT_EV_RESOLVE) b.s(" '").sn(ev.name, NT_FR_NAME).s("' offset ").x(ev.a);
      if (ev.type == NT_EV_FILE_OPEN || ev.type == NT_EV_MODEL_BEGIN) b.c(' ').s(path_of(ev.d));
      if (ev.type == NT_EV_CRASH) b.s(" signal ").u(ev.a).s(" at ").x(ev.b);
    });
  }
  journal_send(sink, e);
}

}  // namespace numatrace::rec::sink
