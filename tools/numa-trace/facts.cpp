// The loader's state as gdb's extension gathers it from the loader's debug
// info (`numa-trace facts`, docs/gdb.md), parsed into the LoaderState that
// the native reader fills, so that both are judged by the same code.
#include "facts.h"
#include "codes.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace numatrace::cli {

Result<postmortem::LoaderState> loader_state_from_facts(const std::string& text, const std::string& where) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return Error{ErrorKind::invalid, code::facts_json, where, "", std::string("not JSON: ") + e.what()};
  }
  postmortem::LoaderState st;
  st.source = "gdb";
  try {
    const auto files = j.value("files", nlohmann::json::array());
    for (size_t i = 0; i < files.size(); ++i) {
      postmortem::DebugFile f;
      f.idx = static_cast<int>(i);
      f.empty = false;
      // A size, or {"size", "path"}.
      if (files[i].is_object()) {
        f.size = files[i].at("size").get<uint64_t>();
        f.path = files[i].value("path", std::string());
      } else {
        f.size = files[i].get<uint64_t>();
      }
      st.files.push_back(f);
    }
    const auto maps = j.value("mappings", nlohmann::json::array());
    // Slots not listed are empty; how many there are is n_mappings (older
    // facts: one per file).
    size_t n = j.value("n_mappings", st.files.size());
    for (const auto& m : maps) n = std::max(n, m.at("slot").get<size_t>() + 1);
    if (n > 4096) return Error{ErrorKind::invalid, code::facts_incomplete, where, "n_mappings", "more than 4096 slots"};
    st.mappings.resize(n);
    for (size_t i = 0; i < n; ++i) st.mappings[i].slot = static_cast<int>(i);
    for (const auto& m : maps) {
      auto& s = st.mappings[m.at("slot").get<size_t>()];
      s.empty = false;
      s.object = m.value("object", uint64_t{0});
      s.base = m.at("base").get<uint64_t>();
      s.size = m.at("length").get<uint64_t>();
    }
    st.tid = j.value("tid", 1);
    st.frame = j.value("frame", std::string());
    st.loader_tid = j.value("loader_tid", st.tid);
    st.weight_from = j.value("weight_from", std::string());
    st.loader_from = j.value("loader_from", std::string());
    st.loader = j.value("loader", uint64_t{0});
    for (const auto& t : j.value("abi_layouts", nlohmann::json::array()))
      st.abi_layouts.push_back(t.get<std::string>());
    if (j.contains("resolve")) {
      const auto& r = j.at("resolve");
      st.have_weight = true;
      st.weight_idx = r.at("file_idx").get<int>();
      st.weight_offs = r.at("offset").get<uint64_t>();
      st.tensor_bytes = r.value("size", uint64_t{0});
      st.tensor = r.value("tensor", std::string("?"));
    } else {
      st.weight_why = j.value("weight_why", std::string("gdb found no `weight` in the loader frame"));
    }
  } catch (const std::exception& e) {
    return Error{ErrorKind::invalid, code::facts_incomplete, where, "", std::string("facts incomplete: ") + e.what()};
  }
  st.found = true;
  return st;
}

Result<postmortem::LoaderState> loader_state_from_facts_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{ErrorKind::io, code::facts_io, path, "", "cannot open"};
  std::stringstream text;
  text << in.rdbuf();
  return loader_state_from_facts(text.str(), path);
}

}  // namespace numatrace::cli
