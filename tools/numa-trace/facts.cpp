// The loader's state, gathered by a debugger from its debug info (the gdb
// extension's loader_facts), turned into flight-recorder tables so that the
// rule engine can judge it like a recorded run.
#include "facts.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "numatrace/model/replay.h"

namespace numatrace::cli {

namespace {

uint16_t kind_of(const std::string& k) {
  return k == "unified" ? NT_KIND_UNIFIED : k == "replica" ? NT_KIND_REPLICA : NT_KIND_PER_FILE;
}

}  // namespace

Result<std::shared_ptr<nt_flight_recorder>> recorder_from_facts_file(const std::string& path, int& tid) {
  std::ifstream in(path);
  if (!in) return Error{ErrorKind::io, "DG001", path, "", "cannot open"};
  std::stringstream text;
  text << in.rdbuf();
  return recorder_from_facts(text.str(), path, tid);
}

Result<std::shared_ptr<nt_flight_recorder>> recorder_from_facts(const std::string& text, const std::string& where,
                                                                int& tid) {
  const std::string& path = where;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return Error{ErrorKind::invalid, "DG002", path, "", std::string("not JSON: ") + e.what()};
  }
  auto rec = std::make_shared<nt_flight_recorder>();
  model::Replayer replay(*rec);
  std::vector<nt_fr_finding> ignored;
  auto on = [&](const nt_fr_finding& f) { ignored.push_back(f); };
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
  try {
    const auto files = j.value("files", nlohmann::json::array());
    auto b = event(NT_EV_MODEL_BEGIN);
    b.a = files.size();
    replay.feed(b, on);
    for (size_t i = 0; i < files.size(); ++i) {
      auto f = event(NT_EV_FILE_OPEN);
      f.file_idx = static_cast<int32_t>(i);
      f.a = files[i].get<uint64_t>();
      replay.feed(f, on);
    }
    for (const auto& m : j.value("mappings", nlohmann::json::array())) {
      auto c = event(NT_EV_CREATE);
      c.slot = m.at("slot").get<int32_t>();
      c.a = m.at("base").get<uint64_t>();
      c.b = m.at("length").get<uint64_t>();
      c.node = static_cast<int16_t>(m.value("node", -1));
      c.d = kind_of(m.value("kind", "per-file"));
      replay.feed(c, on);
      for (const auto& x : m.value("extents", nlohmann::json::array())) {
        auto e = event(NT_EV_EXTENT);
        e.slot = c.slot;
        e.file_idx = x.at(0).get<int32_t>();
        e.a = x.at(1).get<uint64_t>();
        e.b = x.at(2).get<uint64_t>();
        replay.feed(e, on);
      }
    }
    replay.flush_create(on);
    const auto& r = j.at("resolve");
    tid = j.value("tid", 1);
    nt_fr_thread& t = rec->threads[0];
    t.tid = static_cast<uint32_t>(tid);
    t.in_flight = 1;
    t.slot = r.at("slot").get<int32_t>();
    t.file_idx = r.at("file_idx").get<int32_t>();
    t.offset = r.at("offset").get<uint64_t>();
    t.size = r.value("size", uint64_t{0});
    t.address = r.value("address", uint64_t{0});
    t.node = -1;
    t.seq = ++seq;
    model::copy_name(t.name, r.value("tensor", std::string("?")).c_str());
  } catch (const std::exception& e) {
    return Error{ErrorKind::invalid, "DG003", path, "", std::string("facts incomplete: ") + e.what()};
  }
  return rec;
}

}  // namespace numatrace::cli
