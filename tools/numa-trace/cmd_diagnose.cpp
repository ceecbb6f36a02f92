// numa-trace diagnose: the verdict for a stopped or crashed thread from the
// facts a debugger gathered: the flight recorder's bytes (dumped by gdb), or,
// for a loader that ran without numa-trace, the loader's own state read from
// its debug info (as JSON). The gdb extension calls it, so gdb shows the same
// words as numa-trace postmortem: one rule engine.
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "codes.h"
#include "engine.h"
#include "facts.h"
#include "numatrace/postmortem/postmortem.h"
#include "numatrace/rules/codes.h"

namespace numatrace::cli {

int run_diagnose(const DiagnoseOptions& o) {
  std::shared_ptr<nt_flight_recorder> rec;
  std::optional<postmortem::LoaderState> state;  // with --facts
  int tid = o.tid;
  if (!o.recorder.empty()) {
    std::ifstream in(o.recorder, std::ios::binary);
    if (!in) return unusable(Error{ErrorKind::io, code::facts_io, o.recorder, "", "cannot open"});
    rec = std::make_shared<nt_flight_recorder>();
    in.read(reinterpret_cast<char*>(rec.get()), sizeof *rec);
    if (in.gcount() != static_cast<std::streamsize>(sizeof *rec) || rec->magic != NT_FR_MAGIC ||
        rec->version != NT_FR_VERSION || rec->size != sizeof *rec) {
      return unusable(Error{ErrorKind::invalid, code::recorder_dump, o.recorder, "",
                            "not a flight recorder of version " + std::to_string(NT_FR_VERSION) + " (" +
                                std::to_string(sizeof *rec) + " bytes)"});
    }
  } else if (!o.facts.empty()) {
    auto f = loader_state_from_facts_file(o.facts);
    if (!f) {
      return unusable(f.error());
    }
    rec = postmortem::recorder_from_state(*f);
    tid = f->tid;
    state = *f;
  } else {
    std::fprintf(stderr, "numa-trace diagnose: give --recorder FILE or --facts FILE\n");
    return kUsage;
  }
  auto j = postmortem::judge(*rec, tid, o.signal, o.fault_address, o.where);
  // The file behind the weight, as postmortem says it.
  if (state && state->have_weight) j.verdict += postmortem::file_sentence(*state, state->weight_idx);
  if (o.json) {
    nlohmann::ordered_json out;
    out["verdict"] = j.verdict;
    out["findings"] = nlohmann::ordered_json::array();
    for (size_t i = 0; i < j.findings.size(); ++i)
      out["findings"].push_back({{"code", rules::code_info(j.findings[i].code).id},
                                 {"slot", j.findings[i].slot},
                                 {"file_idx", j.findings[i].file_idx},
                                 {"message", j.finding_text[i]}});
    std::printf("%s\n", json_text(out).c_str());
  } else {
    std::printf("%s\n", j.verdict.c_str());
    for (const auto& t : j.finding_text) std::printf("  %s\n", t.c_str());
  }
  return j.findings.empty() ? kOk : kProblems;
}

}  // namespace numatrace::cli
