// The native DWARF reader on the checked-in corpus (tests/postmortem/corpus,
// made by its regenerate.sh): statically linked builds of the
// upstream-shaped loader, so the core and its binary are the whole input.
// Field by field, through the library's API; corpus.sh compares the whole
// JSON with its golden.
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zstd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "numatrace/postmortem/postmortem.h"

namespace fs = std::filesystem;
using namespace numatrace::postmortem;

namespace {

const fs::path kCorpus = NUMA_TRACE_CORPUS_DIR;

std::vector<char> slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A .zst of the corpus decompressed to `to` (whole: the binaries are small).
bool unzstd(const fs::path& from, const fs::path& to) {
  const std::vector<char> in = slurp(from);
  const unsigned long long n = ZSTD_getFrameContentSize(in.data(), in.size());
  if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n > (1ull << 30)) return false;
  std::vector<char> out(n);
  const size_t got = ZSTD_decompress(out.data(), out.size(), in.data(), in.size());
  if (ZSTD_isError(got) || got != n) return false;
  std::ofstream(to, std::ios::binary).write(out.data(), static_cast<std::streamsize>(out.size()));
  fs::permissions(to, fs::perms::owner_all);
  return true;
}

std::string build_id(const fs::path& p) {
  std::string hex;
  elf_version(EV_CURRENT);
  const int fd = open(p.c_str(), O_RDONLY);
  if (fd < 0) return hex;
  if (Elf* e = elf_begin(fd, ELF_C_READ, nullptr)) {
    const void* id = nullptr;
    const ssize_t n = dwelf_elf_gnu_build_id(e, &id);
    for (ssize_t i = 0; i < n; ++i) {
      char b[3];
      std::snprintf(b, sizeof b, "%02x", static_cast<const unsigned char*>(id)[i]);
      hex += b;
    }
    elf_end(e);
  }
  close(fd);
  return hex;
}

// The binaries in a work folder, o2's DWARF under debug/.build-id.
class PostmortemCorpus : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    work_ = fs::temp_directory_path() / ("nt-corpus-" + std::to_string(getpid()));
    fs::create_directories(work_ / "debug");
    ASSERT_TRUE(unzstd(kCorpus / "o2.zst", work_ / "o2"));
    ASSERT_TRUE(unzstd(kCorpus / "o0.zst", work_ / "o0"));
    const std::string id = build_id(work_ / "o2");
    ASSERT_GT(id.size(), 2u);
    fs::create_directories(work_ / "debug/.build-id" / id.substr(0, 2));
    ASSERT_TRUE(
        unzstd(kCorpus / "o2.debug.zst", work_ / "debug/.build-id" / id.substr(0, 2) / (id.substr(2) + ".debug")));
  }
  static void TearDownTestSuite() { fs::remove_all(work_); }

  static Report decode(const std::string& name, const std::string& exe) {
    Options o;
    o.core = kCorpus / (name + ".core.zst");
    o.executable = work_ / exe;
    o.debug_dirs.push_back(work_ / "debug");
    o.offline = true;
    auto r = analyze(o);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().str());
    return r.ok() ? *r : Report{};
  }

  static void expect_null_slot(const LoaderState& st) {
    ASSERT_TRUE(st.found) << st.why;
    EXPECT_EQ(st.source, "libdw");
    ASSERT_EQ(st.mappings.size(), 3u);
    EXPECT_FALSE(st.mappings[0].empty);
    EXPECT_TRUE(st.mappings[1].empty);
    EXPECT_FALSE(st.mappings[2].empty);
    EXPECT_NE(st.mappings[0].base, 0u);
    EXPECT_GT(st.mappings[0].size, 0u);
    ASSERT_EQ(st.files.size(), 3u);
    for (const auto& f : st.files) EXPECT_NE(f.path.find("-of-00003.gguf"), std::string::npos) << f.path;
    ASSERT_TRUE(st.have_weight) << st.weight_why;
    EXPECT_EQ(st.weight_idx, 1);
    EXPECT_EQ(st.tensor.rfind("blk.", 0), 0u) << st.tensor;
  }

  static fs::path work_;
};
fs::path PostmortemCorpus::work_;

TEST_F(PostmortemCorpus, O2ThisAndWeightFromRegistersOfTheOuterFrame) {
  const Report r = decode("o2-null-slot", "o2");
  expect_null_slot(r.loader_state);
  EXPECT_NE(r.loader_state.loader_from.find("load_all_data"), std::string::npos) << r.loader_state.loader_from;
  EXPECT_NE(r.loader_state.weight_from.find("`weight`"), std::string::npos) << r.loader_state.weight_from;
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].code, 1);  // NT001
}

TEST_F(PostmortemCorpus, O2WeightByTheTensorsNameInTheWeightsMap) {
  const Report r = decode("o2-by-index", "o2");
  expect_null_slot(r.loader_state);
  EXPECT_NE(r.loader_state.weight_from.find("weights_map"), std::string::npos) << r.loader_state.weight_from;
}

TEST_F(PostmortemCorpus, O2MlockSlots) {
  const Report r = decode("o2-mlock", "o2");
  expect_null_slot(r.loader_state);
  EXPECT_TRUE(r.loader_state.have_mlocks);
  EXPECT_EQ(r.loader_state.mlocks.size(), 3u);
}

TEST_F(PostmortemCorpus, O0EverythingThroughTheFrameBase) {
  const Report r = decode("o0-null-slot", "o0");
  expect_null_slot(r.loader_state);
}

TEST_F(PostmortemCorpus, DamagedCoresAreSaidSo) {
  for (const char* name : {"truncated", "bad-notes"}) {
    const Report r = decode(name, "o2");
    EXPECT_TRUE(r.damaged) << name;
    bool coded = false;
    for (const auto& w : r.warnings) coded |= w.code == "PM003" || w.code == "PM005";
    EXPECT_TRUE(coded) << name;
  }
}

}  // namespace
