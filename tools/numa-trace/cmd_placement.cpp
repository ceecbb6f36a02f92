// numa-trace placement PID: where a running process's model weights are,
// per split file, tensor group, tensor and node, without restarting it or
// it having been started under numa-trace (docs/numa-trace.md, placement).
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "numatrace/codec.h"
#include "numatrace/gguf/model.h"
#include "numatrace/machine/process.h"

namespace numatrace::cli {

namespace {

constexpr uint64_t kPage = 4096;

struct PlacementOptions {
  int pid = 0;
  bool tensors = false;
  bool json = false;
  double watch = 0;
  uint64_t max_pages = 16384;
  uint64_t rate = 262144;  // pages per second
};

// Sampled pages: per node, and absent (not in the process's page tables).
struct Count {
  std::vector<uint64_t> nodes;
  uint64_t absent = 0, sampled = 0;
  void add(int status) {
    ++sampled;
    if (status < 0) {
      ++absent;
      return;
    }
    if (nodes.size() <= static_cast<size_t>(status)) nodes.resize(static_cast<size_t>(status) + 1);
    nodes[static_cast<size_t>(status)]++;
  }
  void add(const std::vector<uint64_t>& per_node) {
    if (nodes.size() < per_node.size()) nodes.resize(per_node.size());
    for (size_t k = 0; k < per_node.size(); ++k) nodes[k] += per_node[k], sampled += per_node[k];
  }
};

std::string group_of(const std::string& name) {
  if (name.rfind("token_embd", 0) == 0) return "token_embd";
  if (name.find(".attn_") != std::string::npos) return "attention";
  if (name.find(".ffn_") != std::string::npos) return "ffn";
  if (name.rfind("output", 0) == 0) return "output";
  return "other";
}

struct Tensor {
  std::string name;
  uint64_t offset = 0, size = 0;  // absolute in its file
  Count count;
};

struct File {
  std::string path;
  int file_idx = -1;                 // in its model, -1 when the model could not be read
  std::vector<machine::Vma> ranges;  // its mapped ranges
  uint64_t mapped = 0;               // bytes mapped
  std::vector<Tensor> tensors;       // by offset
  Count count;
  std::string model_error;
};

struct Region {  // a unified or replica mapping named by the flight recorder
  int slot = 0, node = -1;
  uint16_t kind = 0;
  uint64_t base = 0, length = 0;
  std::vector<std::pair<int32_t, std::pair<uint64_t, uint64_t>>> extents;  // file idx, offset, length
  std::map<int32_t, Count> per_file;
  Count count;
};

struct Snapshot {
  machine::Maps maps;
  std::vector<File> files;
  std::vector<Region> regions;
  std::string recorder_note;
  std::map<int32_t, std::string> recorder_files;  // file idx -> path, from the flight recorder
  std::string method;                             // "move_pages" or "numa_maps"
  std::string method_note;
  uint64_t sampled = 0;
  double ms = 0;
  Count total;
};

bool is_gguf(const std::string& path) {
  return path.size() > 5 && path.compare(path.size() - 5, 5, ".gguf") == 0;
}

// Evenly spaced pages over `ranges` (n at most; each range keeps its share).
void spread(const std::vector<std::pair<uint64_t, uint64_t>>& ranges, uint64_t n, std::vector<uint64_t>& out) {
  uint64_t total = 0;
  for (const auto& [lo, hi] : ranges) total += (hi - lo) / kPage;
  if (!total) return;
  n = std::min(n, total);
  for (uint64_t k = 0; k < n; ++k) {
    uint64_t page = k * total / n;
    for (const auto& [lo, hi] : ranges) {
      const uint64_t pages = (hi - lo) / kPage;
      if (page < pages) {
        out.push_back(lo + page * kPage);
        break;
      }
      page -= pages;
    }
  }
}

Snapshot take(const PlacementOptions& o, bool& gone) {
  Snapshot s;
  s.maps = machine::read_maps(o.pid);
  if (s.maps.err) {
    gone = true;
    return s;
  }
  // Mapped splits, grouped by path; their models read once per model.
  std::map<std::string, size_t> by_path;
  for (const auto& v : s.maps.vmas) {
    if (!is_gguf(v.path)) continue;
    auto [it, fresh] = by_path.emplace(v.path, s.files.size());
    if (fresh) {
      s.files.emplace_back();
      s.files.back().path = v.path;
    }
    File& f = s.files[it->second];
    f.ranges.push_back(v);
    f.mapped += v.end - v.start;
  }
  std::sort(s.files.begin(), s.files.end(), [](const File& a, const File& b) { return a.path < b.path; });
  std::map<std::string, std::shared_ptr<gguf::Model>> models;
  for (File& f : s.files) {
    auto split = gguf::parse_split_path(f.path);
    const std::string key = split ? split->prefix : f.path;
    if (!models.count(key)) {
      auto opened = gguf::open_model(f.path);
      models[key] = opened ? std::make_shared<gguf::Model>(std::move(*opened)) : nullptr;
      if (!opened) f.model_error = opened.error().str();
    }
    const auto& m = models[key];
    if (!m) continue;
    for (size_t i = 0; i < m->files.size(); ++i)
      if (m->files[i].path == f.path || (split && split->no == i)) f.file_idx = static_cast<int>(i);
    if (f.file_idx < 0 || !m->readable[static_cast<size_t>(f.file_idx)]) continue;
    for (const auto& t : m->tensors())
      if (t.file_idx == f.file_idx) f.tensors.push_back({t.info->name, t.abs_offset, t.info->size, {}});
    std::sort(f.tensors.begin(), f.tensors.end(), [](const Tensor& a, const Tensor& b) { return a.offset < b.offset; });
  }
  // Unified and replica regions, from the flight recorder when libnumatrace is loaded.
  if (auto rec = machine::read_recorder(o.pid, s.maps, s.recorder_note)) {
    for (int32_t f = 0; f < NT_FR_MAX_FILES; ++f)
      if (rec->files[f].path && rec->files[f].path < NT_FR_STRINGS)
        s.recorder_files[f] =
            std::string(rec->strings + rec->files[f].path,
                        strnlen(rec->strings + rec->files[f].path, NT_FR_STRINGS - rec->files[f].path));
    for (uint32_t i = 0; i < std::min<uint32_t>(rec->n_mappings, NT_FR_MAX_MAPPINGS); ++i) {
      const nt_fr_mapping& m = rec->mappings[i];
      if (m.state != NT_STATE_LIVE || (m.kind != NT_KIND_UNIFIED && m.kind != NT_KIND_REPLICA) || (m.gen & 1)) continue;
      Region r{m.slot, m.node, m.kind, m.base, m.length, {}, {}, {}};
      for (uint64_t e = m.first_extent; e < uint64_t{m.first_extent} + m.n_extents && e < NT_FR_MAX_EXTENTS; ++e)
        r.extents.push_back({rec->extents[e].file_idx, {rec->extents[e].offset, rec->extents[e].length}});
      s.regions.push_back(r);
    }
  }

  // The pages: the budget shared by mapped bytes, plus (--tensors) each
  // tensor's first page.
  uint64_t bytes = 0;
  for (const File& f : s.files) bytes += f.mapped;
  for (const Region& r : s.regions) bytes += r.length;
  std::vector<uint64_t> pages;
  std::vector<int> owner;  // per page: its file's index, or -1 - its region's index
  auto share = [&](uint64_t b) { return bytes ? std::max<uint64_t>(1, o.max_pages * b / bytes) : 0; };
  for (size_t i = 0; i < s.files.size(); ++i) {
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (const auto& v : s.files[i].ranges) ranges.push_back({v.start, v.end});
    const auto first = static_cast<std::ptrdiff_t>(pages.size());
    spread(ranges, share(s.files[i].mapped), pages);
    if (o.tensors)
      for (const Tensor& t : s.files[i].tensors)
        for (const auto& v : s.files[i].ranges)
          if (t.offset >= v.offset && t.offset - v.offset < v.end - v.start) {
            pages.push_back((v.start + (t.offset - v.offset)) & ~(kPage - 1));
            break;
          }
    std::sort(pages.begin() + first, pages.end());  // a tensor's first page may be a sampled one already
    pages.erase(std::unique(pages.begin() + first, pages.end()), pages.end());
    owner.resize(pages.size(), static_cast<int>(i));
  }
  for (size_t i = 0; i < s.regions.size(); ++i) {
    spread({{s.regions[i].base & ~(kPage - 1), s.regions[i].base + s.regions[i].length}}, share(s.regions[i].length),
           pages);
    owner.resize(pages.size(), -1 - static_cast<int>(i));
  }

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<int> status;
  int err = machine::query_nodes(o.pid, pages, status, o.rate);
  s.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (err == 0) {
    s.method = "move_pages";
    s.sampled = pages.size();
    for (size_t k = 0; k < pages.size(); ++k) {
      s.total.add(status[k]);
      if (owner[k] >= 0) {
        File& f = s.files[static_cast<size_t>(owner[k])];
        f.count.add(status[k]);
        for (const auto& v : f.ranges) {
          if (pages[k] < v.start || pages[k] >= v.end) continue;
          // The page counts for every tensor it holds a part of.
          const uint64_t off = v.offset + (pages[k] - v.start);
          auto it = std::upper_bound(f.tensors.begin(), f.tensors.end(), off,
                                     [](uint64_t x, const Tensor& t) { return x < t.offset; });
          if (it != f.tensors.begin()) --it;
          for (; it != f.tensors.end() && it->offset < off + kPage; ++it)
            if (off < it->offset + std::max<uint64_t>(it->size, 1)) it->count.add(status[k]);
          break;
        }
      } else {
        Region& r = s.regions[static_cast<size_t>(-1 - owner[k])];
        r.count.add(status[k]);
        const uint64_t off = pages[k] - r.base;
        for (const auto& [file, ext] : r.extents)
          if (off >= ext.first && off - ext.first < ext.second) r.per_file[file].add(status[k]);
      }
    }
  } else {
    // Not allowed to query that process's pages: the kernel's per-mapping
    // counts are all there is (no per-tensor placement).
    s.method = "numa_maps";
    s.method_note = std::string("move_pages on the process was refused (") + std::strerror(err) +
                    "): per-file placement from /proc/" + std::to_string(o.pid) + "/numa_maps, none per tensor";
    auto nm = machine::read_numa_maps(o.pid);
    for (File& f : s.files)
      for (const auto& v : f.ranges)
        if (auto it = nm.find(v.start); it != nm.end()) {
          f.count.add(it->second);
          s.total.add(it->second);
        }
    for (Region& r : s.regions)
      if (auto it = nm.find(r.base & ~(kPage - 1)); it != nm.end()) r.count.add(it->second);
    s.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
  return s;
}

// A file's tensors by group, with how many tensors each has.
std::map<std::string, std::pair<Count, uint64_t>> groups_of(const File& f) {
  std::map<std::string, std::pair<Count, uint64_t>> groups;
  for (const Tensor& t : f.tensors) {
    auto& [g, n] = groups[group_of(t.name)];
    g.add(t.count.nodes);
    g.absent += t.count.absent;
    g.sampled += t.count.absent;
    ++n;
  }
  return groups;
}

std::string shares(const Count& c, size_t nodes) {
  std::string out;
  for (size_t n = 0; n < nodes; ++n) {
    char b[32];
    const uint64_t v = n < c.nodes.size() ? c.nodes[n] : 0;
    std::snprintf(b, sizeof b, "  node%zu %3.0f%%", n,
                  c.sampled ? 100.0 * static_cast<double>(v) / static_cast<double>(c.sampled) : 0.0);
    out += b;
  }
  if (c.absent) out += "  absent " + std::to_string(c.absent * 100 / std::max<uint64_t>(c.sampled, 1)) + "%";
  if (!c.sampled) out = "  not sampled";
  return out;
}

nlohmann::ordered_json count_json(const Count& c) {
  return {{"sampled_pages", c.sampled}, {"absent_pages", c.absent}, {"pages_per_node", c.nodes}};
}

size_t node_columns(const Snapshot& s) {
  size_t n = std::max<size_t>(1, s.total.nodes.size());
  for (const auto& r : s.regions) n = std::max(n, r.count.nodes.size());
  return n;
}

void print_text(const PlacementOptions& o, const Snapshot& s) {
  const size_t nodes = node_columns(s);
  // move_pages samples pages; numa_maps gives the kernel's count of every
  // page each mapping has in memory.
  std::printf("process %d (%s): %zu GGUF split%s mapped; %llu pages %s %s in %.1f ms\n", o.pid,
              printable(s.maps.comm).c_str(), s.files.size(), s.files.size() == 1 ? "" : "s",
              static_cast<unsigned long long>(s.sampled ? s.sampled : s.total.sampled),
              s.method == "numa_maps" ? "counted from" : "sampled with", s.method.c_str(), s.ms);
  if (!s.method_note.empty()) std::printf("  %s\n", s.method_note.c_str());
  for (const File& f : s.files) {
    std::printf("\n%s%s\n  file %s, %s mapped:%s\n", printable(f.path).c_str(),
                f.model_error.empty() ? "" : (" (tensor table unreadable: " + printable(f.model_error) + ")").c_str(),
                f.file_idx >= 0 ? std::to_string(f.file_idx).c_str() : "?", human_bytes(f.mapped).c_str(),
                shares(f.count, nodes).c_str());
    if (s.method != "move_pages" || f.tensors.empty()) continue;
    for (const auto& [name, g] : groups_of(f))
      std::printf("  %-11s %4llu tensors%s\n", name.c_str(), static_cast<unsigned long long>(g.second),
                  shares(g.first, nodes).c_str());
    if (o.tensors)
      for (const Tensor& t : f.tensors)
        std::printf("    %-36s %10s%s\n", printable(t.name).c_str(), human_bytes(t.size).c_str(),
                    shares(t.count, nodes).c_str());
  }
  for (const Region& r : s.regions) {
    std::printf("\n%s region in slot %d%s (flight recorder), %s at %s:%s\n", format::kind_name(r.kind), r.slot,
                r.kind == NT_KIND_REPLICA ? (" for node " + std::to_string(r.node)).c_str() : "",
                human_bytes(r.length).c_str(), hex(r.base).c_str(), shares(r.count, nodes).c_str());
    for (const auto& [file, c] : r.per_file) {
      auto it = s.recorder_files.find(file);
      std::string path;
      if (it != s.recorder_files.end()) path.append(" ").append(printable(it->second));
      std::printf("  file %d%s:%s\n", file, path.c_str(), shares(c, nodes).c_str());
    }
  }
  if (!s.recorder_note.empty() && s.recorder_note.find("not loaded") == std::string::npos)
    std::printf("\nflight recorder: %s\n", s.recorder_note.c_str());
  std::printf("\nin all:%s\n", shares(s.total, nodes).c_str());
}

nlohmann::ordered_json to_json(const PlacementOptions& o, const Snapshot& s) {
  nlohmann::ordered_json j;
  j["pid"] = o.pid;
  j["comm"] = s.maps.comm;
  j["method"] = s.method;
  if (!s.method_note.empty()) j["method_note"] = s.method_note;
  j["sampled_pages"] = s.sampled;
  j["ms"] = s.ms;
  j["files"] = nlohmann::ordered_json::array();
  for (const File& f : s.files) {
    nlohmann::ordered_json jf = {
        {"path", f.path}, {"file_idx", f.file_idx}, {"mapped_bytes", f.mapped}, {"placement", count_json(f.count)}};
    if (!f.model_error.empty()) jf["model_error"] = f.model_error;
    jf["groups"] = nlohmann::ordered_json::object();
    for (const auto& [name, g] : groups_of(f)) {
      jf["groups"][name] = count_json(g.first);
      jf["groups"][name]["tensors"] = g.second;
    }
    if (o.tensors) {
      jf["tensors"] = nlohmann::ordered_json::array();
      for (const Tensor& t : f.tensors)
        jf["tensors"].push_back(
            {{"name", t.name}, {"offset", t.offset}, {"size", t.size}, {"placement", count_json(t.count)}});
    }
    j["files"].push_back(jf);
  }
  j["regions"] = nlohmann::ordered_json::array();
  for (const Region& r : s.regions) {
    nlohmann::ordered_json jr = {{"slot", r.slot},     {"kind", format::kind_name(r.kind)},
                                 {"node", r.node},     {"base", hex(r.base)},
                                 {"length", r.length}, {"placement", count_json(r.count)}};
    jr["files"] = nlohmann::ordered_json::array();
    for (const auto& [file, c] : r.per_file) {
      auto it = s.recorder_files.find(file);
      jr["files"].push_back({{"file_idx", file},
                             {"path", it == s.recorder_files.end() ? std::string() : it->second},
                             {"placement", count_json(c)}});
    }
    j["regions"].push_back(jr);
  }
  if (!s.recorder_note.empty()) j["recorder"] = s.recorder_note;
  j["placement"] = count_json(s.total);
  return j;
}

volatile sig_atomic_t g_stop = 0;

int run_placement(const PlacementOptions& o) {
  const bool tty = isatty(STDOUT_FILENO) != 0;
  if (o.watch > 0) {
    struct sigaction sa {};
    sa.sa_handler = [](int) { g_stop = 1; };
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
  }
  for (int pass = 0;; ++pass) {
    bool gone = false;
    Snapshot s = take(o, gone);
    if (gone) {
      if (pass > 0) {
        std::printf("process %d is gone\n", o.pid);
        return kOk;
      }
      std::fprintf(stderr, "numa-trace placement: process %d: %s\n", o.pid, s.maps.error.c_str());
      return kUsage;
    }
    if (o.watch > 0 && tty) std::printf("\033[H\033[2J");  // redraw in place
    if (o.watch > 0 && !tty) {
      const time_t now = time(nullptr);
      char at[32];
      std::strftime(at, sizeof at, "%F %T", std::localtime(&now));
      std::printf("--- %s\n", at);
    }
    if (o.json)
      std::printf("%s\n", json_text(to_json(o, s), o.watch > 0 ? -1 : 2).c_str());
    else
      print_text(o, s);
    std::fflush(stdout);
    if (o.watch <= 0) return kOk;
    timespec ts{static_cast<time_t>(o.watch),
                static_cast<long>((o.watch - static_cast<double>(static_cast<time_t>(o.watch))) * 1e9)};
    while (!g_stop && nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    if (g_stop) return kOk;
  }
}

// A number above 0 (whole: one that fits a pid_t), else "IN is not WHAT".
// CLI11's PositiveNumber refuses "abc" and 0 alike as "not in range
// 0.000000 to" DBL_MAX written out in 309 digits.
CLI::Validator positive(std::string what, bool whole) {
  return {[what = std::move(what), whole](std::string& in) -> std::string {
            const char* end = in.data() + in.size();
            bool ok = false;
            if (whole) {
              pid_t v = 0;
              const auto r = std::from_chars(in.data(), end, v);
              ok = r.ec == std::errc() && r.ptr == end && v > 0;
            } else {
              double v = 0;
              const auto r = std::from_chars(in.data(), end, v);
              ok = r.ec == std::errc() && r.ptr == end && v > 0 && std::isfinite(v);
            }
            return ok ? std::string() : in + " is not " + what;
          },
          "POSITIVE"};
}

}  // namespace

Command add_placement(CLI::App& app) {
  auto o = std::make_shared<PlacementOptions>();
  auto* sub = app.add_subcommand(
      "placement",
      "Where a running process's model weights are now: the GGUF splits it mapped (from /proc/PID/maps), their "
      "tensor tables, and the node of a bounded sample of their pages (move_pages on the process; "
      "/proc/PID/numa_maps when that is refused, per file only), per file, tensor group (token_embd, attention, "
      "ffn, output), tensor (--tensors) and node. With libnumatrace loaded in it, also its unified and replica "
      "regions, from the flight recorder. The process is neither stopped nor changed, and need not have been "
      "started under numa-trace. Exit 0 shown, 2 no such process or not allowed to read it.");
  sub->add_option("pid", o->pid, "The process")
      ->required()
      ->check(positive("a process id (a whole number above 0)", true));
  sub->add_flag("--tensors", o->tensors, "Also each tensor (its first page is always sampled)");
  sub->add_flag("--json", o->json, "Print JSON (one document per line with --watch)");
  sub->add_option("--watch", o->watch,
                  "Sample again every SECONDS, redrawn in place on a terminal, until ^C or the "
                  "process ends")
      ->check(positive("a number of seconds above 0", false));
  sub->add_option("--max-pages", o->max_pages, "Pages sampled per pass, shared by the mapped bytes")
      ->default_val(16384)
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 24));
  sub->add_option("--rate", o->rate, "At most this many pages asked per second")
      ->default_val(262144)
      ->check(CLI::Range(uint64_t{1024}, uint64_t{1} << 30));
  return {sub, [o] { return run_placement(*o); }};
}

}  // namespace numatrace::cli
