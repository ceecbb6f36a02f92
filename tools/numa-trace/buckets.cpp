// numa-trace postmortem with many cores: each decoded in its own sandboxed
// child (as one core is), then grouped by the cause's signature
// (postmortem::signature: finding code, crashing function, slot pattern;
// never addresses). docs/postmortem.md, "Many cores".
#include "buckets.h"

#include <elf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "numatrace/postmortem/codes.h"
#include "sandbox.h"

namespace numatrace::cli {

namespace {

namespace fs = std::filesystem;

// One core to decode, and what is known of it before decoding.
struct Input {
  std::string path;                  // the file (or, for a journal entry, the file it names)
  postmortem::CoredumpEntry listed;  // for --coredump --all (its hostname: "" for a plain file, whose host is unknown)
  uint64_t time_usec = 0;            // the crash's time: the entry's, or the file's mtime
};

// What a child said about one core.
struct Decoded {
  Input in;
  int rc = kUsage;
  std::string program, verdict, error;
  nlohmann::ordered_json signature, findings = nlohmann::ordered_json::array();
  std::string bucket;  // signature id, or "PMnnn" for a core that could not be read
  std::string cause;
};

// Whether FILE starts as a core: an ELF file of type ET_CORE, or a zstd
// frame (systemd-coredump's .zst; what is inside is known once decoded).
bool looks_like_core(const std::string& file) {
  Elf64_Ehdr eh{};
  FILE* f = std::fopen(file.c_str(), "rb");
  if (!f) return false;
  const size_t n = std::fread(&eh, 1, sizeof eh, f);
  std::fclose(f);
  const unsigned char* h = eh.e_ident;
  if (n >= 4 && h[0] == 0x28 && h[1] == 0xb5 && h[2] == 0x2f && h[3] == 0xfd) return true;  // zstd frame magic
  if (n < EI_NIDENT + sizeof eh.e_type || std::memcmp(h, ELFMAG, SELFMAG) != 0) return false;
  // e_type in the file's byte order (a core of another architecture is
  // still a core: decoding it says PM004)
  const uint16_t type = h[EI_DATA] == ELFDATA2MSB ? __builtin_bswap16(eh.e_type) : eh.e_type;
  return type == ET_CORE;
}

uint64_t mtime_usec(const std::string& file) {
  struct stat st {};
  if (stat(file.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_mtim.tv_sec) * 1000000u + static_cast<uint64_t>(st.st_mtim.tv_nsec) / 1000u;
}

// The CORE arguments as files: a folder gives the cores in it and below,
// in name order; a file is taken as named (a non-core is then an error of
// that core, not a reason to stop).
bool collect(const std::vector<std::string>& args, std::vector<Input>& inputs) {
  for (const std::string& a : args) {
    std::error_code ec;
    if (!fs::is_directory(a, ec)) {
      if (access(a.c_str(), F_OK) != 0) {
        print_error(Error{ErrorKind::io, postmortem::code::io, a, "", std::strerror(errno)});
        return false;
      }
      inputs.push_back({a, {}, mtime_usec(a)});
      continue;
    }
    std::vector<std::string> found;
    unsigned skipped = 0;
    fs::recursive_directory_iterator it(a, fs::directory_options::skip_permission_denied, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      const std::string p = it->path().string();
      if (looks_like_core(p))
        found.push_back(p);
      else
        ++skipped;
    }
    if (ec) {
      print_error(Error{ErrorKind::io, postmortem::code::io, a, "", ec.message()});
      return false;
    }
    std::sort(found.begin(), found.end());
    for (const auto& p : found) inputs.push_back({p, {}, mtime_usec(p)});
    if (skipped)
      std::fprintf(stderr, "numa-trace postmortem: %s: %u file%s that %s not cores left out\n", printable(a).c_str(),
                   skipped, skipped == 1 ? "" : "s", skipped == 1 ? "is" : "are");
  }
  return true;
}

// "PM003" in a child's error text, or "".
std::string error_code(const std::string& err) {
  for (size_t i = err.find("PM0"); i != std::string::npos; i = err.find("PM0", i + 1))
    if (i + 5 <= err.size() && std::isdigit(static_cast<unsigned char>(err[i + 3])) &&
        std::isdigit(static_cast<unsigned char>(err[i + 4])))
      return err.substr(i, 5);
  return "";
}

Decoded decode(const Input& in, const PostmortemOptions& base, const EngineApi* e) {
  Decoded d;
  d.in = in;
  PostmortemOptions o = base;
  o.cores.clear();
  o.coredump.clear();
  o.all = false;
  o.json = true;
  o.pm.core = in.path;
  o.listed = in.listed;
  SandboxLimits limits;
  limits.wall_seconds = o.timeout;
  limits.cpu_seconds = o.timeout;
  std::string out, err;
  d.rc = run_sandboxed_into(
      in.path, limits, [&o, e] { return e->postmortem(o); }, out, &err);
  d.program = base_name(in.listed.exe.empty() ? in.listed.comm : in.listed.exe);
  auto j = nlohmann::ordered_json::parse(out, nullptr, false);
  if (j.is_object()) {
    if (const auto exe = j.value("executable", std::string()); !exe.empty()) d.program = base_name(exe);
    d.verdict = j.value("verdict", std::string());
    for (const auto& f : j.value("findings", nlohmann::ordered_json::array()))
      d.findings.push_back(f.value("code", std::string()));
    if (j.value("damaged", false)) {
      // Read in part (truncated, corrupt notes): its cause is not known
      // for sure; the damage is what it is grouped by.
      for (const auto& w : j.value("warnings", nlohmann::ordered_json::array()))
        if (w.is_string()) err = w.get<std::string>() + "\n" + err;
    } else if (d.rc != kUsage) {
      d.signature = j.value("signature", nlohmann::ordered_json::object());
      d.bucket = d.signature.value("id", std::string());
      d.cause = d.signature.value("cause", std::string());
    }
  }
  if (d.bucket.empty()) {
    // Not decoded, or only in part: grouped by the error's code, its first
    // line as the cause's words.
    const std::string code = error_code(err);
    d.bucket = code.empty() ? "error" : code;
    d.error = err.substr(0, err.find('\n'));
    const size_t at = code.empty() ? std::string::npos : d.error.find(code);
    d.cause = "not decoded: " +
              (at == std::string::npos ? (d.error.empty() ? "no reason given" : d.error) : d.error.substr(at));
  }
  if (d.program.empty()) d.program = "?";
  return d;
}

struct Bucket {
  std::string id;
  std::vector<size_t> cores;  // indices into the decoded list; the first one's signature and cause are the bucket's
  std::set<std::string> hosts, programs;
  uint64_t first = 0, last = 0;
  size_t example = 0;
};

}  // namespace

bool many_cores(const PostmortemOptions& o) {
  if (o.all || o.cores.size() > 1) return true;
  std::error_code ec;
  return o.cores.size() == 1 && fs::is_directory(o.cores[0], ec);
}

int run_many(const PostmortemOptions& o, const EngineApi* e) {
  std::vector<Input> inputs;
  if (o.coredump_given) {
    std::vector<postmortem::CoredumpEntry> listed;
    if (int rc = e->coredumps(o.coredump, listed); rc != kOk) return rc;
    for (auto& l : listed) {
      Input in;
      in.path = l.filename.empty() ? "PID " + l.pid + " (core in the journal)" : l.filename;
      in.time_usec = std::strtoull(l.timestamp.c_str(), nullptr, 10);
      in.listed = std::move(l);
      inputs.push_back(std::move(in));
    }
  }
  if (!collect(o.cores, inputs)) return kUsage;
  if (inputs.empty()) {
    std::fprintf(stderr, "numa-trace postmortem: no cores found in %s\n",
                 o.cores.empty() ? "the journal" : printable(o.cores[0]).c_str());
    return kUsage;
  }

  // Progress: for more than a few cores, one line per core on stderr (the
  // count rewritten in place on a terminal).
  const bool progress = !o.quiet && inputs.size() > 3;
  const bool tty = isatty(STDERR_FILENO);
  std::vector<Decoded> decoded;
  decoded.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (progress) {
      std::fprintf(stderr, "%snuma-trace postmortem: decoding %zu/%zu: %s%s", tty ? "\r\033[K" : "", i + 1,
                   inputs.size(), printable(inputs[i].path).c_str(), tty ? "" : "\n");
      std::fflush(stderr);
    }
    decoded.push_back(decode(inputs[i], o, e));
  }
  if (progress && tty) std::fprintf(stderr, "\r\033[K");

  std::map<std::string, Bucket> by_id;
  for (size_t i = 0; i < decoded.size(); ++i) {
    const Decoded& d = decoded[i];
    Bucket& b = by_id[d.bucket];
    if (b.cores.empty()) {
      b.id = d.bucket;
      b.example = i;
      b.first = b.last = d.in.time_usec;
    }
    b.cores.push_back(i);
    if (!d.in.listed.hostname.empty()) b.hosts.insert(d.in.listed.hostname);
    b.programs.insert(d.program);
    if (d.in.time_usec && (!b.first || d.in.time_usec < b.first)) b.first = d.in.time_usec;
    if (d.in.time_usec > b.last) {
      b.last = d.in.time_usec;
      b.example = i;  // the newest core is the example
    }
  }
  std::vector<const Bucket*> buckets;
  for (const auto& [id, b] : by_id) buckets.push_back(&b);
  std::sort(buckets.begin(), buckets.end(), [](const Bucket* a, const Bucket* b) {
    return a->cores.size() != b->cores.size() ? a->cores.size() > b->cores.size() : a->first < b->first;
  });

  unsigned unreadable = 0;
  bool problems = false;
  for (const auto& d : decoded) {
    unreadable += d.rc == kUsage;
    problems |= d.rc == kProblems;
  }
  const int rc = unreadable ? kUsage : problems ? kProblems : kOk;

  if (o.json) {
    nlohmann::ordered_json j;
    j["cores"] = nlohmann::ordered_json::array();
    for (const auto& d : decoded) {
      nlohmann::ordered_json c = {{"core", d.in.path},
                                  {"host", d.in.listed.hostname.empty() ? nlohmann::ordered_json(nullptr)
                                                                        : nlohmann::ordered_json(d.in.listed.hostname)},
                                  {"program", d.program},
                                  {"time_usec", d.in.time_usec},
                                  {"exit", d.rc},
                                  {"bucket", d.bucket},
                                  {"verdict", d.verdict},
                                  {"findings", d.findings}};
      if (!d.in.listed.pid.empty()) c["coredump_pid"] = d.in.listed.pid;
      if (!d.error.empty()) c["error"] = d.error;
      j["cores"].push_back(c);
    }
    j["buckets"] = nlohmann::ordered_json::array();
    for (const Bucket* b : buckets) {
      nlohmann::ordered_json cores = nlohmann::ordered_json::array();
      for (size_t i : b->cores) cores.push_back(decoded[i].in.path);
      const Decoded& first = decoded[b->cores.front()];
      j["buckets"].push_back(
          {{"id", b->id},
           {"cause", first.cause},
           {"signature", first.signature.empty() ? nlohmann::ordered_json(nullptr) : first.signature},
           {"count", b->cores.size()},
           {"hosts", b->hosts},
           {"programs", b->programs},
           {"first_usec", b->first},
           {"last_usec", b->last},
           {"example", decoded[b->example].in.path},
           {"cores", cores}});
    }
    j["unreadable"] = unreadable;
    std::printf("%s\n", json_text(j).c_str());
    return rc;
  }

  std::printf("%zu core%s, %zu cause%s%s\n", decoded.size(), decoded.size() == 1 ? "" : "s", buckets.size(),
              buckets.size() == 1 ? "" : "s",
              unreadable ? (", " + std::to_string(unreadable) + " not decoded").c_str() : "");
  std::printf("%5s  %-8s  %-19s  %-19s  %-12s  %-16s  %s\n", "COUNT", "BUCKET", "FIRST", "LAST", "HOSTS", "PROGRAMS",
              "CAUSE (e.g. CORE)");
  for (const Bucket* b : buckets)
    std::printf("%5zu  %-8s  %-19s  %-19s  %-12s  %-16s  %s  (e.g. %s)\n", b->cores.size(), b->id.c_str(),
                local_time(b->first).c_str(), local_time(b->last).c_str(), printable(joined(b->hosts)).c_str(),
                printable(joined(b->programs)).c_str(), printable(decoded[b->cores.front()].cause).c_str(),
                printable(decoded[b->example].in.path).c_str());
  return rc;
}

}  // namespace numatrace::cli
