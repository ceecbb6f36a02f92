// numa-trace inspect: the files, tensors and unified layout of a model, and
// every validation problem the loader would reject it for.
#include <unistd.h>

#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "numatrace/gguf/model.h"

namespace numatrace::cli {

namespace {

struct InspectOptions {
  std::string model;
  bool tensors = false;
  bool json = false;
  uint64_t page_size = 0;
};

nlohmann::ordered_json problem_json(const Error& e) {
  return {{"code", e.code}, {"file", e.where}, {"field", e.field}, {"message", e.message}};
}

int run_inspect(const InspectOptions& o) {
  if (o.page_size & (o.page_size - 1)) {
    std::fprintf(stderr, "numa-trace inspect: --page-size %llu is not a power of two\n",
                 static_cast<unsigned long long>(o.page_size));
    return kUsage;
  }
  auto opened = gguf::open_model(o.model);
  if (!opened) return checked(opened.error());
  const gguf::Model& m = *opened;

  const uint64_t page = o.page_size ? o.page_size : static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  std::vector<uint64_t> sizes;
  for (const auto& f : m.files) sizes.push_back(f.file_size);
  auto packed = gguf::unified_layout(sizes, gguf::Packing::packed, page);
  auto aligned = gguf::unified_layout(sizes, gguf::Packing::page_aligned, page);
  if (!packed || !aligned) return checked(packed ? aligned.error() : packed.error());

  uint64_t total_bytes = 0;
  for (const auto& f : m.files) total_bytes += f.file_size;

  if (o.json) {
    nlohmann::ordered_json j;
    j["model"] = o.model;
    j["prefix"] = m.prefix;
    j["split_count"] = m.split_count;
    j["tensor_count"] = m.tensor_count();
    j["page_size"] = page;
    j["files"] = nlohmann::ordered_json::array();
    for (size_t i = 0; i < m.files.size(); ++i) {
      const auto& f = m.files[i];
      j["files"].push_back({{"idx", i},
                            {"path", f.path},
                            {"readable", static_cast<bool>(m.readable[i])},
                            {"size", f.file_size},
                            {"version", f.version},
                            {"alignment", f.alignment},
                            {"data_offset", f.data_offset},
                            {"tensors", f.tensors.size()},
                            {"tensor_bytes", f.data_bytes()},
                            {"unified_packed_offset", packed->extents[i].offset},
                            {"unified_page_aligned_offset", aligned->extents[i].offset}});
    }
    j["unified"] = {{"packed_size", packed->total}, {"page_aligned_size", aligned->total}};
    if (o.tensors) {
      j["tensors"] = nlohmann::ordered_json::array();
      for (const auto& t : m.tensors())
        j["tensors"].push_back({{"name", t.info->name},
                                {"file_idx", t.file_idx},
                                {"offset", t.abs_offset},
                                {"size", t.info->size},
                                {"type", gguf::type_traits(static_cast<int32_t>(t.info->type))->name},
                                {"ne", std::vector<int64_t>(t.info->ne.begin(), t.info->ne.begin() + t.info->n_dims)}});
    }
    j["problems"] = nlohmann::ordered_json::array();
    for (const auto& p : m.problems) j["problems"].push_back(problem_json(p));
    std::printf("%s\n", json_text(j).c_str());
  } else {
    std::printf("model %s: %u file%s, %llu tensors, %s\n\n", printable(o.model).c_str(), m.split_count,
                m.split_count == 1 ? "" : "s", static_cast<unsigned long long>(m.tensor_count()),
                human_bytes(total_bytes).c_str());
    std::printf("%4s  %-36s %12s %12s %8s %12s\n", "idx", "file", "size", "data offset", "tensors", "tensor bytes");
    // A run of more than two unreadable files (missing splits of a huge
    // split.count) is one row in each table: the problem list says what is
    // wrong with them. Returns the end of the run starting at i, or i.
    auto long_unreadable_run = [&](size_t i) {
      size_t end = i;
      while (end < m.files.size() && !m.readable[end]) ++end;
      return end - i > 2 ? end : i;
    };
    for (size_t i = 0; i < m.files.size(); ++i) {
      const auto& f = m.files[i];
      if (size_t end = long_unreadable_run(i); end != i) {
        std::printf("%4zu  %-36s %12s\n", i, ("... to " + std::to_string(end - 1)).c_str(), "(unreadable)");
        i = end - 1;
      } else if (!m.readable[i]) {
        std::printf("%4zu  %-36s %12s\n", i, printable(base_name(f.path)).c_str(), "(unreadable)");
      } else {
        std::printf("%4zu  %-36s %12s %12s %8zu %12s\n", i, printable(base_name(f.path)).c_str(),
                    human_bytes(f.file_size).c_str(), hex(f.data_offset).c_str(), f.tensors.size(),
                    human_bytes(f.data_bytes()).c_str());
      }
    }
    std::printf("\nunified layout (one region holding every file, as the NUMA-mirror loader builds it; page %s)\n",
                human_bytes(page).c_str());
    std::printf("%4s  %16s %20s %14s\n", "idx", "packed offset", "page-aligned offset", "size");
    for (size_t i = 0; i < m.files.size(); ++i) {
      if (size_t end = long_unreadable_run(i); end != i) {
        std::printf("%4zu  %16s %20s %14s  (files %zu to %zu unreadable, size 0)\n", i,
                    hex(packed->extents[i].offset).c_str(), hex(aligned->extents[i].offset).c_str(), "0x0", i, end - 1);
        i = end - 1;
      } else {
        std::printf("%4zu  %16s %20s %14s\n", i, hex(packed->extents[i].offset).c_str(),
                    hex(aligned->extents[i].offset).c_str(), hex(m.files[i].file_size).c_str());
      }
    }
    std::printf("%4s  %16s %20s\n", "end", hex(packed->total).c_str(), hex(aligned->total).c_str());
    if (o.tensors) {
      std::printf("\n%-40s %4s %14s %12s %6s\n", "tensor", "file", "offset", "size", "type");
      for (const auto& t : m.tensors())
        std::printf("%-40s %4u %14s %12llu %6s\n", printable(t.info->name).c_str(), t.file_idx,
                    hex(t.abs_offset).c_str(), static_cast<unsigned long long>(t.info->size),
                    std::string(gguf::type_traits(static_cast<int32_t>(t.info->type))->name).c_str());
    }
    if (!m.problems.empty()) {
      std::printf("\n%zu problem%s:\n", m.problems.size(), m.problems.size() == 1 ? "" : "s");
      for (const auto& p : m.problems) std::printf("  %s\n", printable(p.str()).c_str());
    }
  }
  // Problems also go to stderr, one line each, so scripts see them whatever
  // the output format.
  for (const auto& p : m.problems) std::fprintf(stderr, "numa-trace: %s\n", printable(p.str()).c_str());
  return m.valid() ? kOk : kProblems;
}

}  // namespace

Command add_inspect(CLI::App& app) {
  auto o = std::make_shared<InspectOptions>();
  auto* sub = app.add_subcommand(
      "inspect",
      "Read every split of a GGUF model and check it as the loader does (split.no, split.count, "
      "split.tensors.count, duplicate tensors, offsets, bounds). Prints one row per file (idx, size, data "
      "offset, tensors) and where each file lands in a unified region, packed and page-aligned. "
      "Exit 0 valid, 1 problems found (each with a GGnnn code, the file and the field), 2 usage or I/O error.");
  sub->add_option("model", o->model, "Any split's path, a single-file model, or the split prefix")->required();
  sub->add_flag("--tensors", o->tensors, "Also list every tensor: name, file idx, absolute offset, size, type");
  sub->add_flag("--json", o->json, "Print JSON instead of tables");
  sub->add_option("--page-size", o->page_size,
                  "Page size for the page-aligned layout (default: the system's; 2M or 1G for hugepages)")
      ->transform(CLI::AsSizeValue(false));
  return {sub, [o] { return run_inspect(*o); }};
}

}  // namespace numatrace::cli
