// How `numa-trace postmortem` shows a Report: the text for people and the
// JSON for programs, the same facts in each (docs/postmortem.md, "Output").
#include "render_postmortem.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "cli.h"
#include "numatrace/codec.h"
#include "numatrace/rules/engine.h"

namespace numatrace::cli {

namespace {

std::string frame_text(const postmortem::Frame& f) {
  std::string s = f.function.empty() ? "??" : f.function;
  if (f.inlined) s = "(inlined) " + s;
  if (!f.file.empty()) {
    s += " at " + f.file + ":" + std::to_string(f.line);
  } else if (!f.module.empty()) {
    s += " (" + f.module + " + " + hex(f.module_offset) + ")";
  }
  return s;
}

const char* event_type(uint16_t t) {
  const char* n = format::event_name(t);
  return n ? n : "?";
}

void print_slots(const std::vector<postmortem::DebugSlot>& v) {
  std::printf(" %4s  %-16s %-33s %12s\n", "slot", "object", "range", "bytes");
  for (const auto& s : v) {
    if (s.empty)
      std::printf(" %4d  <empty>\n", s.slot);
    else if (!s.readable)
      std::printf(" %4d  %-16s (%s)\n", s.slot, hex(s.object).c_str(), s.note.c_str());
    else
      std::printf(" %4d  %-16s %-33s %12llu\n", s.slot, s.object ? hex(s.object).c_str() : "-",
                  (hex(s.base) + "-" + hex(s.base + s.size)).c_str(), static_cast<unsigned long long>(s.size));
  }
}

void print_loader_state(const postmortem::LoaderState& ls) {
  std::printf("\nthe loader at the crash, from its debug info (%s%s%s)\n",
              ls.source == "gdb" ? "read through gdb" : "read natively with libdw",
              ls.debug_file.empty() ? "" : ", DWARF from ", ls.debug_file.c_str());
  if (!ls.loader_from.empty())
    std::printf("  llama_model_loader at %s: %s\n", hex(ls.loader).c_str(), ls.loader_from.c_str());
  for (const auto& t : ls.abi_layouts)
    std::printf("  %s: incomplete in the debug info (no compile unit defines it); read by libstdc++'s ABI layout\n",
                t.c_str());
  std::printf("\n  mappings\n");
  print_slots(ls.mappings);
  if (ls.have_mlocks) {
    std::printf("\n  mlocks\n");
    print_slots(ls.mlocks);
  }
  std::printf("\n  files\n");
  for (const auto& f : ls.files)
    std::printf(" %4d  %s  %s bytes\n", f.idx, f.path.empty() ? "(path not in this layout)" : f.path.c_str(),
                std::to_string(f.size).c_str());
  if (ls.have_weight)
    std::printf("\n  weight: file %d, offset %s, tensor '%s'%s%s\n", ls.weight_idx, hex(ls.weight_offs).c_str(),
                ls.tensor.c_str(), ls.weight_from.empty() ? "" : ", from ", ls.weight_from.c_str());
  else
    std::printf("\n  weight: not recoverable: %s\n", ls.weight_why.c_str());
}

}  // namespace

nlohmann::ordered_json postmortem_json(const postmortem::Report& r) {
  nlohmann::ordered_json j;
  j["core"] = r.core_path;
  j["executable"] = r.executable;
  j["signal"] = r.signal ? postmortem::signal_text(r.signal) : "";
  j["si_code"] = r.si_code;
  j["fault_address"] = hex(r.fault_address);
  j["fault_class"] = postmortem::fault_class_name(r.fault_class);
  j["crashed_tid"] = r.crashed_tid;
  j["verdict"] = r.verdict;
  j["verdict_source"] = r.verdict_source;
  const postmortem::Signature sig = postmortem::signature(r);
  j["signature"] = {
      {"id", sig.id}, {"cause", sig.text}, {"code", sig.code}, {"function", sig.function}, {"pattern", sig.pattern}};
  if (!r.recorder_verdict.empty()) j["recorder_verdict"] = r.recorder_verdict;
  const auto& ls = r.loader_state;
  if (ls.found) {
    nlohmann::ordered_json jl = {
        {"source", ls.source},         {"debug_file", ls.debug_file},   {"tid", ls.tid},
        {"loader_tid", ls.loader_tid}, {"frame_index", ls.frame_index}, {"frame", ls.frame},
        {"loader", hex(ls.loader)},    {"loader_from", ls.loader_from}, {"abi_layouts", ls.abi_layouts}};
    auto slots = [](const std::vector<postmortem::DebugSlot>& v) {
      auto a = nlohmann::ordered_json::array();
      for (const auto& s : v) {
        nlohmann::ordered_json js = {{"slot", s.slot}, {"empty", s.empty}};
        if (!s.empty) {
          js["object"] = hex(s.object);
          if (s.readable) {
            js["base"] = hex(s.base);
            js["end"] = hex(s.base + s.size);
            js["size"] = s.size;
          } else {
            js["unreadable"] = s.note;
          }
        }
        a.push_back(js);
      }
      return a;
    };
    jl["mappings"] = slots(ls.mappings);
    jl["mlocks"] = ls.have_mlocks ? slots(ls.mlocks) : nlohmann::ordered_json(nullptr);
    jl["files"] = nlohmann::ordered_json::array();
    for (const auto& f : ls.files)
      jl["files"].push_back({{"idx", f.idx}, {"empty", f.empty}, {"path", f.path}, {"size", f.size}});
    if (ls.have_weight)
      jl["weight"] = {{"idx", ls.weight_idx},
                      {"offs", ls.weight_offs},
                      {"tensor", ls.tensor},
                      {"tensor_bytes", ls.tensor_bytes},
                      {"from", ls.weight_from}};
    else
      jl["weight"] = {{"unknown", ls.weight_why}};
    if (ls.mapping_slot >= 0) jl["mapping_slot"] = ls.mapping_slot;
    j["loader_state"] = jl;
  } else {
    j["loader_state"] = nullptr;
  }
  j["recorder"] = r.recorder ? nlohmann::ordered_json{{"found_by", r.recorder_found_by},
                                                      {"address", hex(r.recorder_address)},
                                                      {"version", r.recorder->version},
                                                      {"events", r.recorder->head},
                                                      {"interposer_only", r.interposer_only}}
                             : nlohmann::ordered_json(nullptr);
  if (!r.recorder_error.empty()) j["recorder_error"] = r.recorder_error;
  j["findings"] = nlohmann::ordered_json::array();
  for (size_t i = 0; i < r.findings.size(); ++i) {
    const auto& f = r.findings[i];
    j["findings"].push_back({{"code", rules::code_info(f.code).id},
                             {"slot", f.slot},
                             {"file_idx", f.file_idx},
                             {"tensor", std::string(f.name)},
                             {"offset", f.offset},
                             {"related_slot", f.related_slot},
                             {"message", r.finding_text[i]}});
  }
  j["slots"] = nlohmann::ordered_json::array();
  if (r.recorder)
    for (uint32_t i = 0; i < rules::mapping_count(*r.recorder); ++i) {
      const auto& m = r.recorder->mappings[i];
      j["slots"].push_back({{"slot", m.slot},
                            {"kind", format::kind_name(m.kind)},
                            {"state", format::state_name(m.state)},
                            {"base", hex(m.base)},
                            {"length", m.length},
                            {"node", m.node},
                            {"extents", m.n_extents}});
    }
  j["mapped_files"] = nlohmann::ordered_json::array();
  for (const auto& f : r.files)
    j["mapped_files"].push_back({{"file_idx", f.file_idx},
                                 {"path", f.path},
                                 {"start", hex(f.start)},
                                 {"end", hex(f.end)},
                                 {"file_offset", f.file_offset},
                                 {"hugetlbfs", f.hugetlbfs}});
  j["splits_without_mapping"] = r.splits_without_mapping;
  j["threads"] = nlohmann::ordered_json::array();
  for (const auto& t : r.threads) {
    nlohmann::ordered_json jt = {{"tid", t.tid}, {"crashed", t.crashed}, {"frames", nlohmann::ordered_json::array()}};
    for (const auto& f : t.frames)
      jt["frames"].push_back({{"pc", hex(f.pc)},
                              {"function", f.function},
                              {"inlined", f.inlined},
                              {"module", f.module},
                              {"module_offset", hex(f.module_offset)},
                              {"file", f.file},
                              {"line", f.line}});
    if (t.truncated) jt["truncated"] = true;
    j["threads"].push_back(jt);
  }
  j["warnings"] = nlohmann::ordered_json::array();
  for (const auto& w : r.warnings) j["warnings"].push_back(w.str());
  j["damaged"] = r.damaged;
  return j;
}

void print_postmortem(const postmortem::Report& r) {
  std::printf("core %s%s%s\n", r.core_path.c_str(), r.executable.empty() ? "" : " of ", r.executable.c_str());
  std::printf("\n%s\n", r.verdict.c_str());
  if (!r.finding_text.empty()) {
    std::printf("\nfindings\n");
    for (const auto& t : r.finding_text) std::printf("  %s\n", t.c_str());
  }
  if (r.recorder) {
    const auto& fr = *r.recorder;
    std::printf("\nmapping slots at the crash (flight recorder, found by %s at %s%s)\n", r.recorder_found_by.c_str(),
                hex(r.recorder_address).c_str(),
                r.interposer_only ? "; recorded by the preload interposer: no resolves" : "");
    std::printf(" %4s  %-8s %-9s %4s  %-16s %12s\n", "slot", "kind", "state", "node", "base", "length");
    int max_slot = -1;
    for (uint32_t i = 0; i < rules::mapping_count(fr); ++i) max_slot = std::max(max_slot, fr.mappings[i].slot);
    for (int s = 0; s <= std::max<int>(max_slot, static_cast<int>(fr.n_files) - 1); ++s) {
      bool any = false;
      for (uint32_t i = 0; i < rules::mapping_count(fr); ++i) {
        const auto& m = fr.mappings[i];
        if (m.slot != s) continue;
        any = true;
        std::printf(" %4d  %-8s %-9s %4s  %-16s %12s\n", s, format::kind_name(m.kind), format::state_name(m.state),
                    m.node >= 0 ? std::to_string(m.node).c_str() : "-", hex(m.base).c_str(), hex(m.length).c_str());
      }
      if (!any) std::printf(" %4d  %-8s\n", s, "<empty>");
    }
    if (!r.last_events.empty()) {
      std::printf("\nlast events\n");
      for (const auto& e : r.last_events) {
        std::printf("  #%-6llu %-12s tid %-7u", static_cast<unsigned long long>(e.seq), event_type(e.type), e.tid);
        if (e.slot >= 0) std::printf(" slot %d", e.slot);
        if (e.file_idx >= 0) std::printf(" file %d", e.file_idx);
        if (e.type == NT_EV_RESOLVE) std::printf(" '%s' offset %s", e.name, hex(e.a).c_str());
        if (e.type == NT_EV_CREATE)
          std::printf(" %s base %s", format::kind_name(format::create_kind(e)), hex(e.a).c_str());
        if (e.type == NT_EV_FINDING) std::printf(" %s", rules::code_info(e.flags).id);
        std::printf("\n");
      }
    }
  }
  if (r.loader_state.found) print_loader_state(r.loader_state);
  if (!r.files.empty()) {
    std::printf("\nmodel files mapped at the crash (NT_FILE)\n");
    for (const auto& f : r.files)
      std::printf(
          "  %s  %s-%s  +%s  %s\n",
          f.file_idx >= 0 ? ("file " + std::to_string(f.file_idx)).c_str() : (f.hugetlbfs ? "hugetlbfs" : "gguf"),
          hex(f.start).c_str(), hex(f.end).c_str(), hex(f.file_offset).c_str(), f.path.c_str());
    if (!r.splits_without_mapping.empty()) {
      std::printf("  splits with no mapping:");
      for (int i : r.splits_without_mapping) std::printf(" %d", i);
      std::printf("\n");
    }
  }
  for (const auto& t : r.threads) {
    std::printf("\nthread %d%s\n", t.tid, t.crashed ? " (crashed)" : "");
    int n = 0;
    for (const auto& f : t.frames) std::printf("  #%-2d %s  %s\n", n++, hex(f.pc).c_str(), frame_text(f).c_str());
    if (t.truncated) std::printf("  ... more frames (--max-frames)\n");
    if (!t.error.empty()) std::printf("  (%s)\n", t.error.c_str());
  }
  if (r.threads_truncated) std::printf("\n... more threads (--max-threads)\n");
  for (const auto& w : r.warnings) std::fprintf(stderr, "numa-trace postmortem: warning: %s\n", w.str().c_str());
  if (r.damaged)
    std::fprintf(stderr, "numa-trace postmortem: %s is truncated or corrupt; the above is what could be read\n",
                 r.core_path.c_str());
}

}  // namespace numatrace::cli
