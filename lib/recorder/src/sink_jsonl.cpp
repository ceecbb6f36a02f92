// The JSON lines sink: one object per event (docs/recorder.md).
#include <cstring>

#include "numatrace/codec.h"

#include "sinks_internal.h"

namespace numatrace::rec::sink {

namespace {

// JSON string body, escaped.
void json_str(rules::Buf& b, const char* s, size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < max && s[i]; ++i) {
    unsigned char ch = static_cast<unsigned char>(s[i]);
    if (ch == '"' || ch == '\\') {
      b.c('\\').c(static_cast<char>(ch));
    } else if (ch < 0x20) {
      b.s("\\u00").c(kHex[ch >> 4]).c(kHex[ch & 15]);
    } else {
      b.c(static_cast<char>(ch));
    }
  }
}

}  // namespace

void emit_jsonl(int i, const nt_fr_event& e) {
  char line[1400];
  rules::Buf b(line, sizeof line - 2);
  b.s("{\"seq\":").u(e.seq).s(",\"t_ns\":").u(ns_of(e.tsc)).s(",\"type\":\"").s(type_name(e.type));
  b.s("\",\"tid\":").u(e.tid);
  if (e.slot >= 0) b.s(",\"slot\":").i(e.slot);
  if (e.file_idx >= 0) b.s(",\"file_idx\":").i(e.file_idx);
  switch (e.type) {
    case NT_EV_MODEL_BEGIN:
      b.s(",\"n_files\":").u(e.a).s(",\"path\":\"");
      json_str(b, path_of(e.d), NT_FR_STRINGS);
      b.c('"');
      break;
    case NT_EV_FILE_OPEN:
      b.s(",\"size\":").u(e.a).s(",\"path\":\"");
      json_str(b, path_of(e.d), NT_FR_STRINGS);
      b.c('"');
      break;
    case NT_EV_CREATE:
      b.s(",\"kind\":\"").s(format::kind_name(format::create_kind(e))).s("\",\"base\":\"").x(e.a);
      b.s("\",\"length\":").u(e.b).s(",\"node\":").i(e.node).s(",\"flags\":").u(format::create_flags(e));
      if (e.c) b.s(",\"requested\":\"").x(e.c).c('"');
      break;
    case NT_EV_EXTENT: b.s(",\"offset\":").u(e.a).s(",\"length\":").u(e.b); break;
    case NT_EV_RESOLVE:
      b.s(",\"offset\":").u(e.a).s(",\"size\":").u(e.b).s(",\"address\":\"").x(e.c).s("\",\"cpu\":").i(e.cpu);
      b.s(",\"node\":").i(e.node).s(",\"page_node\":").i(e.page_node).s(",\"tensor\":\"");
      json_str(b, e.name, NT_FR_NAME);
      b.c('"');
      break;
    case NT_EV_UNMAP: b.s(",\"address\":\"").x(e.a).s("\",\"length\":").u(e.b); break;
    case NT_EV_DESTROY: b.s(",\"base\":\"").x(e.a).c('"'); break;
    case NT_EV_MLOCK_GROW: b.s(",\"address\":\"").x(e.a).s("\",\"size\":").u(e.b); break;
    case NT_EV_PLACEMENT: {
      b.s(",\"sampled\":").u(e.a).s(",\"absent\":").u(e.b).s(",\"nodes\":[");
      for (int n = 0; n < NT_FR_MAX_NODES; ++n) b.s(n ? "," : "").u(format::placement_pages(e, n));
      b.c(']');
      break;
    }
    case NT_EV_FINDING: {
      b.s(",\"code\":\"").s(rules::code_info(e.flags).id).s("\",\"severity\":").u(rules::code_info(e.flags).severity);
      if (const nt_fr_finding* f = finding_of(e)) {
        char msg[768];
        rules::format_finding(fr(), *f, msg, sizeof msg);
        b.s(",\"message\":\"");
        json_str(b, msg, sizeof msg);
        b.c('"');
      }
      break;
    }
    case NT_EV_CRASH: b.s(",\"signal\":").u(e.a).s(",\"fault_address\":\"").x(e.b).c('"'); break;
    case NT_EV_UNIFIED_TEST: b.s(",\"answer\":").u(e.a); break;
    case NT_EV_READ:
      b.s(",\"offset\":").u(e.a).s(",\"length\":").u(e.b).s(",\"destination\":\"").x(e.c).s("\",\"cpu\":").i(e.cpu);
      b.s(",\"node\":").i(e.node).s(",\"page_node\":").i(e.page_node);
      break;
  }
  b.s("}");
  size_t n = b.size();
  line[n++] = '\n';
  put(i, line, n);
}

}  // namespace numatrace::rec::sink
