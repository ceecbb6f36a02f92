// The loader's state read from its debug info (libdw or gdb), judged by
// the rule engine as if it had been recorded: the same findings and the
// same words as with a flight recorder.
#include "numatrace/postmortem/postmortem.h"
#include "numatrace/rules/replay.h"
#include "numatrace/text.h"

namespace numatrace::postmortem {

std::shared_ptr<nt_flight_recorder> recorder_from_state(const LoaderState& st) {
  auto rec = std::make_shared<nt_flight_recorder>();
  rules::Replayer replay(*rec);
  auto ignore = [](const nt_fr_finding&) {};
  uint64_t seq = 0;
  auto event = [&](uint16_t type) {
    nt_fr_event e{};
    e.seq = ++seq;
    e.type = type;
    e.slot = -1;
    e.file_idx = -1;
    e.node = -1;
    e.mapping = -1;
    return e;
  };
  auto b = event(NT_EV_MODEL_BEGIN);
  b.a = st.files.size();
  replay.feed(b, ignore);
  for (const auto& f : st.files) {
    auto e = event(NT_EV_FILE_OPEN);
    e.file_idx = f.idx;
    e.a = f.size;
    replay.feed(e, ignore);
  }
  // The loader's own test for the unified mode (docs/llama-loader.md):
  // mappings.size() > 1 && mappings[0] && !mappings[1]; file k then lies
  // at the sum of the sizes of the files before it.
  // A slot 0 that holds only file 0 is a per-file mapping with slot 1
  // missing, not a unified region.
  uint64_t total = 0;
  for (const auto& f : st.files) total += f.size;
  const bool unified = st.mappings.size() > 1 && !st.mappings[0].empty && st.mappings[1].empty && st.files.size() > 1 &&
                       st.mappings[0].size >= total;
  for (const auto& m : st.mappings) {
    if (m.empty || !m.readable) continue;
    auto c = event(NT_EV_CREATE);
    c.slot = m.slot;
    c.a = m.base;
    c.b = m.size;
    c.d = unified && m.slot == 0 ? NT_KIND_UNIFIED : NT_KIND_PER_FILE;
    replay.feed(c, ignore);
    if (unified && m.slot == 0) {
      uint64_t at = 0;
      for (const auto& f : st.files) {
        auto e = event(NT_EV_EXTENT);
        e.slot = c.slot;
        e.file_idx = f.idx;
        e.a = at;
        e.b = f.size;
        replay.feed(e, ignore);
        at += f.size;
      }
    }
  }
  replay.flush_create(ignore);
  if (st.have_weight) {
    nt_fr_thread& t = rec->threads[0];
    t.tid = static_cast<uint32_t>(st.tid);
    t.in_flight = 1;
    t.slot = st.weight_idx;
    t.file_idx = st.weight_idx;
    t.offset = st.weight_offs;
    t.size = st.tensor_bytes;
    const bool live = st.weight_idx >= 0 && static_cast<size_t>(st.weight_idx) < st.mappings.size() &&
                      !st.mappings[static_cast<size_t>(st.weight_idx)].empty;
    t.address = live ? st.mappings[static_cast<size_t>(st.weight_idx)].base + st.weight_offs : 0;
    t.node = -1;
    t.seq = ++seq;
    rules::copy_name(t.name, st.tensor.empty() ? "?" : st.tensor.c_str());
  }
  return rec;
}

std::string file_sentence(const LoaderState& st, int idx) {
  if (idx < 0 || static_cast<size_t>(idx) >= st.files.size() || st.files[static_cast<size_t>(idx)].path.empty())
    return "";
  const auto& f = st.files[static_cast<size_t>(idx)];
  return " File " + std::to_string(idx) + " of " + std::to_string(st.files.size()) + " is " + f.path + " (" +
         std::to_string(f.size) + " bytes).";
}

void judge_loader_state(Report& r) {
  const LoaderState& st = r.loader_state;
  auto rec = recorder_from_state(st);
  const std::string where = crash_location(r);
  Judgement j = judge(*rec, st.have_weight ? st.tid : -1, r.signal, r.fault_address, where);
  const bool with_recorder = r.recorder != nullptr;
  if (with_recorder && j.findings.empty()) return;  // the recorder's verdict stands; loader_state is shown beside it
  r.fault_class = j.fault_class;
  r.findings = std::move(j.findings);
  r.finding_text = std::move(j.finding_text);
  std::string v = std::move(j.verdict);
  std::vector<int> empty;
  for (const auto& m : st.mappings)
    if (m.empty) empty.push_back(m.slot);
  if (st.have_weight) {
    v += file_sentence(st, st.weight_idx);
  } else {
    // No resolve in flight: the engine's sentence for a recorded run
    // ("no recorded mapping explains it") does not apply; say what is known.
    v = crash_sentence(r.signal, r.fault_address, r.fault_class, where) + ".";
    if (!empty.empty()) {
      v += empty.size() == 1 ? " Mapping slot" : " Mapping slots";
      for (size_t i = 0; i < empty.size(); ++i) v += (i ? ", " : " ") + std::to_string(empty[i]);
      v += empty.size() == 1 ? " is empty." : " are empty.";
    } else if (!st.mappings.empty()) {
      v += " None of the loader's " + std::to_string(st.mappings.size()) + " mapping slots is empty.";
    }
    if (st.mapping_slot >= 0) {
      v += " The crashing resolve went through slot " + std::to_string(st.mapping_slot) + " (" + st.mapping_from + ")" +
           (static_cast<size_t>(st.mapping_slot) < st.mappings.size() &&
                    st.mappings[static_cast<size_t>(st.mapping_slot)].empty
                ? ", which is empty."
                : ".");
      v += file_sentence(st, st.mapping_slot);
    }
    v += " Which tensor was being resolved cannot be known: " + st.weight_why + ".";
  }
  v += st.source == "gdb" ? " (From the loader's debug info, read through gdb"
                          : " (From the loader's debug info, read natively with libdw";
  if (with_recorder) {
    v += "; the flight recorder's " + std::to_string(r.recorder->head) +
         " events hold no mapping that explains this crash: a loader the interposer sees only in part, or one "
         "patched with hooks that were not called for this slot.)";
    r.recorder_verdict = r.verdict;
  } else {
    v += ": this core has no usable flight recorder.)";
  }
  v += recorder_error_sentence(r);
  r.verdict = v;
  r.verdict_source = st.source == "gdb" ? "debug info (gdb)" : "debug info (libdw)";
  if (with_recorder) r.verdict_source += " and flight recorder";
}

}  // namespace numatrace::postmortem
