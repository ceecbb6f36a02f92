#include "numatrace/gguf/model.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "numatrace/gguf/codes.h"
#include "numatrace/gguf/reader.h"

namespace numatrace::gguf {

std::string split_path(const std::string& prefix, unsigned no, unsigned count) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "-%05u-of-%05u.gguf", no + 1, count);
  return prefix + buf;
}

std::optional<SplitName> parse_split_path(const std::string& path) {
  uint32_t idx = 0, count = 0;
  if (!parse_split_suffix(path.data(), path.size(), idx, count)) return std::nullopt;
  return SplitName{path.substr(0, path.size() - kSplitSuffix), idx, count};
}

std::vector<TensorRef> Model::tensors() const {
  std::vector<TensorRef> out;
  for (size_t i = 0; i < files.size(); ++i)
    for (const auto& t : files[i].tensors)
      out.push_back({static_cast<uint16_t>(i), &t, files[i].data_offset + t.offset});
  return out;
}

void Model::add(FileInfo f) {
  files.push_back(std::move(f));
  readable.push_back(true);
}

void Model::add_unreadable(const std::string& path, std::optional<Error> why) {
  FileInfo f;
  f.path = path;
  files.push_back(std::move(f));
  readable.push_back(false);
  if (why) problems.push_back(std::move(*why));
}

bool Model::all_read() const {
  return std::find(readable.begin(), readable.end(), false) == readable.end();
}

uint64_t Model::tensor_count() const {
  uint64_t n = 0;
  for (const auto& f : files) n += f.tensors.size();
  return n;
}

namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

Error problem(std::string_view code, const std::string& where, std::string field, std::string message) {
  return Error{ErrorKind::invalid, std::string(code), where, std::move(field), std::move(message)};
}

// The value of a split key as an integer, checking its type.
std::optional<int64_t> split_key(const FileInfo& f, std::string_view key, ValueType type,
                                 std::vector<Error>& problems) {
  const Value* v = f.find(key);
  if (!v) return std::nullopt;
  if (v->type != type) {
    problems.push_back(problem(
        code::split_key_type, f.path, "kv '" + std::string(key) + "'",
        "has type " + std::string(value_type_name(v->type)) + ", expected " + std::string(value_type_name(type))));
    return std::nullopt;
  }
  return v->as_int();
}

// "<prefix>-00001-of-NNNNN.gguf" in the prefix's directory, if exactly one.
std::optional<std::string> find_first_split(const std::string& prefix) {
  auto slash = prefix.rfind('/');
  std::string dir = slash == std::string::npos ? "." : prefix.substr(0, slash == 0 ? 1 : slash);
  std::string base = slash == std::string::npos ? prefix : prefix.substr(slash + 1);
  DIR* d = ::opendir(dir.c_str());
  if (!d) return std::nullopt;
  std::optional<std::string> found;
  int matches = 0;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    auto s = parse_split_path(name);
    if (s && s->prefix == base && s->no == 0) {
      found = (slash == std::string::npos ? "" : prefix.substr(0, slash + 1)) + name;
      ++matches;
    }
  }
  ::closedir(d);
  if (matches != 1) return std::nullopt;
  return found;
}

}  // namespace

Result<Model> open_model(const std::string& path) {
  Model m;
  std::string first = path;
  auto name = parse_split_path(path);
  if (!exists(path) && !name) {
    auto f = find_first_split(path);
    if (!f)
      return Error{ErrorKind::io, std::string(code::io), path, "",
                   "no such file, and no single '" + path + "-00001-of-NNNNN.gguf' next to it"};
    first = *f;
    name = parse_split_path(first);
  }
  if (name && name->no != 0) first = split_path(name->prefix, 0, name->count);

  auto f0 = read_file(first);
  if (!f0) {
    if (f0.error().kind == ErrorKind::io) return f0.error();
    m.add_unreadable(first, f0.error());
    return m;
  }
  auto count = split_key(*f0, kKeySplitCount, ValueType::u16, m.problems);
  if (count && *count == 0) {
    m.problems.push_back(problem(code::split_count, first, "kv 'split.count'", "is 0"));
    count.reset();
  }
  m.split_count = static_cast<unsigned>(count.value_or(1));
  if (auto no = split_key(*f0, kKeySplitNo, ValueType::u16, m.problems); no && *no != 0)
    m.problems.push_back(problem(code::split_no, first, "kv 'split.no'",
                                 "is " + std::to_string(*no) + " in the first file, expected 0"));

  if (m.split_count > 1) {
    if (!name) {
      m.problems.push_back(problem(
          code::split_missing, first, "file name",
          "split.count is " + std::to_string(m.split_count) +
              " but the name does not follow <prefix>-NNNNN-of-NNNNN.gguf, so the other splits cannot be found"));
      m.add(std::move(f0.value()));
      return m;
    }
    if (name->count != m.split_count)
      m.problems.push_back(
          problem(code::split_count, first, "kv 'split.count'",
                  "is " + std::to_string(m.split_count) + " but the file name says " + std::to_string(name->count)));
    m.prefix = name->prefix;
  }
  m.add(std::move(f0.value()));

  // Missing splits are reported one problem per run of consecutive ones: a
  // split.count of 65535 with one file present is one line, not 65534.
  unsigned missing_from = 0;
  auto end_missing_run = [&](unsigned end) {  // splits [missing_from, end) are missing
    if (!missing_from) return;
    const std::string p = split_path(m.prefix, missing_from, name->count);
    const std::string total = std::to_string(m.split_count);
    m.problems.push_back(end - missing_from == 1
                             ? problem(code::split_missing, p, "",
                                       "split " + std::to_string(missing_from + 1) + " of " + total + " is missing")
                             : problem(code::split_missing, p, "",
                                       "splits " + std::to_string(missing_from + 1) + " to " + std::to_string(end) +
                                           " of " + total + " are missing (" + std::to_string(end - missing_from) +
                                           " files, from this name on)"));
    missing_from = 0;
  };
  for (unsigned i = 1; i < m.split_count; ++i) {
    std::string p = split_path(m.prefix, i, name->count);
    if (!exists(p)) {
      if (!missing_from) missing_from = i;
      m.add_unreadable(p, std::nullopt);
      continue;
    }
    end_missing_run(i);
    auto fi = read_file(p);
    if (!fi) {
      m.add_unreadable(p, fi.error());
      continue;
    }
    auto no = split_key(*fi, kKeySplitNo, ValueType::u16, m.problems);
    if (!no)
      m.problems.push_back(problem(code::split_no, p, "kv 'split.no'", "is missing, expected " + std::to_string(i)));
    else if (*no != i)
      m.problems.push_back(
          problem(code::split_no, p, "kv 'split.no'",
                  "is " + std::to_string(*no) + ", expected " + std::to_string(i) + " (the file's index)"));
    if (auto c = split_key(*fi, kKeySplitCount, ValueType::u16, m.problems); c && *c != m.split_count)
      m.problems.push_back(
          problem(code::split_count, p, "kv 'split.count'",
                  "is " + std::to_string(*c) + ", the first file says " + std::to_string(m.split_count)));
    m.add(std::move(fi.value()));
  }
  end_missing_run(m.split_count);

  std::unordered_map<std::string_view, size_t> seen;
  for (size_t i = 0; i < m.files.size(); ++i)
    for (const auto& t : m.files[i].tensors)
      if (auto [it, fresh] = seen.emplace(t.name, i); !fresh)
        m.problems.push_back(
            problem(code::duplicate_tensor, m.files[i].path, "tensor '" + t.name + "'",
                    "also in file " + std::to_string(it->second) + " (" + m.files[it->second].path + ")"));

  if (m.split_count > 1 && m.all_read()) {
    auto total = split_key(m.files[0], kKeySplitTensorsCount, ValueType::i32, m.problems);
    if (!total)
      m.problems.push_back(problem(code::split_tensors, first, "kv 'split.tensors.count'", "is missing"));
    else if (static_cast<uint64_t>(*total) != m.tensor_count())
      m.problems.push_back(problem(
          code::split_tensors, first, "kv 'split.tensors.count'",
          "is " + std::to_string(*total) + ", the splits hold " + std::to_string(m.tensor_count()) + " tensors"));
  }
  return m;
}

Result<UnifiedLayout> unified_layout(std::span<const uint64_t> file_sizes, Packing packing, uint64_t page_size) {
  if (page_size == 0 || (page_size & (page_size - 1)) != 0)
    return Error{ErrorKind::invalid, "GG010", "", "page size", std::to_string(page_size) + " is not a power of two"};
  UnifiedLayout l;
  uint64_t at = 0;
  for (size_t i = 0; i < file_sizes.size(); ++i) {
    if (packing == Packing::page_aligned) at = align_up(at, page_size);
    if (file_sizes[i] > std::numeric_limits<uint64_t>::max() - page_size - at)
      return Error{ErrorKind::invalid, "GG012", "", "file " + std::to_string(i), "the unified region's size overflows"};
    l.extents.push_back({static_cast<uint16_t>(i), at, file_sizes[i]});
    at += file_sizes[i];
  }
  l.total = packing == Packing::page_aligned ? align_up(at, page_size) : at;
  return l;
}

const char* strategy_name(Strategy s) {
  switch (s) {
    case Strategy::per_file: return "per-file";
    case Strategy::unified: return "unified";
    case Strategy::mirror: return "mirror";
  }
  return "?";
}

bool parse_strategy(std::string_view s, Strategy& out) {
  for (Strategy k : {Strategy::per_file, Strategy::unified, Strategy::mirror})
    if (s == strategy_name(k)) {
      out = k;
      return true;
    }
  return false;
}

}  // namespace numatrace::gguf
