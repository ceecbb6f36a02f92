#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "numatrace/gguf/model.h"
#include "numatrace/gguf/reader.h"
#include "numatrace/gguf/synth.h"
#include "support/corpus.h"

using namespace numatrace;
using namespace numatrace::gguf;
namespace fs = std::filesystem;

namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "nt-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(Synth, SixSplitModelOpensFromAnySplitAndVerifies) {
  TempDir dir;
  SynthOptions o;
  o.target_bytes = 4u << 20;
  o.splits = 6;
  auto plan = plan_model(o).value();
  auto paths = write_model(dir.path() + "/m", plan).value();
  ASSERT_EQ(paths.size(), 6u);
  for (const auto& p : {paths[0], paths[3], dir.path() + "/m"}) {
    SCOPED_TRACE(p);
    auto m = open_model(p).value();
    EXPECT_TRUE(m.valid()) << (m.problems.empty() ? "" : m.problems[0].str());
    EXPECT_EQ(m.split_count, 6u);
    EXPECT_EQ(m.files.size(), 6u);
    EXPECT_EQ(m.tensor_count(), plan.tensors.size());
    EXPECT_EQ(m.prefix, dir.path() + "/m");
  }
  // Every tensor's bytes in the files are the deterministic contents, and
  // the names follow llama's.
  auto m = open_model(paths[0]).value();
  EXPECT_EQ(m.tensors().front().info->name, "token_embd.weight");
  EXPECT_EQ(m.tensors().back().info->name, "output.weight");
  EXPECT_EQ(*m.files[0].find("general.architecture")->as_string(), "llama");
  for (const auto& t : m.tensors()) {
    auto mf = MappedFile::open(m.files[t.file_idx].path).value();
    auto data = mf.bytes().subspan(t.abs_offset, t.info->size);
    ASSERT_FALSE(verify_tensor_bytes(t.info->name, t.info->type, plan.seed, 0, data)) << t.info->name;
  }
}

TEST(Synth, SplitsByTensorAndByteLimits) {
  SynthOptions o;
  o.target_bytes = 2u << 20;
  o.max_tensors_per_split = 5;
  auto p = plan_model(o).value();
  EXPECT_EQ(p.split_begin.size(), (p.tensors.size() + 4) / 5);
  o.max_tensors_per_split = 0;
  o.max_bytes_per_split = 512u << 10;
  p = plan_model(o).value();
  EXPECT_GT(p.split_begin.size(), 2u);
  o.max_bytes_per_split = 0;
  o.splits = 100000;
  EXPECT_FALSE(plan_model(o));
  o.splits = 0;
  o.alignment = 3;
  EXPECT_FALSE(plan_model(o));
}

TEST(Synth, SingleSplitIsAPlainFile) {
  TempDir dir;
  SynthOptions o;
  o.target_bytes = 1u << 20;
  auto paths = write_model(dir.path() + "/one", plan_model(o).value()).value();
  ASSERT_EQ(paths.size(), 1u);
  EXPECT_EQ(paths[0], dir.path() + "/one.gguf");
  auto m = open_model(paths[0]).value();
  EXPECT_TRUE(m.valid());
  EXPECT_EQ(m.split_count, 1u);
  EXPECT_FALSE(m.files[0].find("split.count"));
}

TEST(Model, MissingFirstFileIsAnIoError) {
  TempDir dir;
  auto r = open_model(dir.path() + "/nothing");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::io);
  EXPECT_EQ(r.error().code, "GG001");
  auto d = open_model(dir.path());  // a directory
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().kind, ErrorKind::io);
}

// Each corpus case yields exactly its code, with the file named, through
// the same path as `numa-trace inspect`.
class Corpus : public ::testing::TestWithParam<test::CorpusCase> {};

TEST_P(Corpus, ReportsTheExpectedCode) {
  const auto& c = GetParam();
  TempDir dir;
  ASSERT_TRUE(test::write_corpus(dir.path(), {c}));
  auto r = open_model(dir.path() + "/" + c.name + "/" + c.open);
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_FALSE(r->problems.empty()) << c.name << " was accepted";
  bool found = false;
  for (const auto& p : r->problems) {
    EXPECT_FALSE(p.where.empty()) << p.str();
    EXPECT_EQ(p.str().find('\n'), std::string::npos);
    found |= p.code == c.expected_code;
  }
  EXPECT_TRUE(found) << c.name << ": expected " << c.expected_code << ", got " << r->problems[0].str();
}

INSTANTIATE_TEST_SUITE_P(Malformed, Corpus, ::testing::ValuesIn(test::malformed_corpus()), [](const auto& param_info) {
  std::string n = param_info.param.name;
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
});

TEST(Corpus, TheValidBaseModelIsAccepted) {
  TempDir dir;
  auto specs = test::small_model_specs(3);
  for (unsigned i = 0; i < 3; ++i) {
    auto b = test::bytes_of(specs[i]);
    std::ofstream(split_path(dir.path() + "/m", i, 3), std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
  auto m = open_model(dir.path() + "/m").value();
  EXPECT_TRUE(m.valid()) << m.problems[0].str();
  EXPECT_EQ(m.tensor_count(), 9u);
}

}  // namespace
