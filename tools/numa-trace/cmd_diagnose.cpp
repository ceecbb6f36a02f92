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
#include "facts.h"
#include "numatrace/postmortem/postmortem.h"
#include "numatrace/rules/codes.h"

namespace numatrace::cli {

namespace {

struct DiagnoseOptions {
  std::string recorder, facts, where;
  int tid = 0, signal = 0;
  uint64_t fault_address = 0;
  bool json = false;
};

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

}  // namespace

Command add_diagnose(CLI::App& app) {
  auto o = std::make_shared<DiagnoseOptions>();
  auto* sub = app.add_subcommand(
      "diagnose",
      "The verdict for one thread from facts a debugger gathered (the gdb extension's `numa-trace diagnose` runs "
      "this): a flight recorder dumped from memory (--recorder, with --tid), or the loader's state as JSON "
      "(--facts; docs/gdb.md gives the shape). Same rule engine and words as numa-trace postmortem. Exit 0 no "
      "finding, 1 findings, 2 unreadable input.");
  sub->add_option("--recorder", o->recorder, "A dump of numatrace_flight_recorder");
  sub->add_option("--facts", o->facts, "The loader's state as JSON");
  sub->add_option("--tid", o->tid, "The thread to judge (with --recorder)");
  sub->add_option("--signal", o->signal, "The signal the thread got, 0 when merely stopped")->default_val(0);
  sub->add_option("--fault-address", o->fault_address, "The fault address, with --signal");
  sub->add_option("--where", o->where, "Where it stopped, e.g. \" in load_all_data\"");
  sub->add_flag("--json", o->json, "Print JSON");
  return {sub, [o] { return run_diagnose(*o); }};
}

}  // namespace numatrace::cli
