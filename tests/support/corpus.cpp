#include "corpus.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstring>

#include "numatrace/gguf/model.h"
#include "numatrace/gguf/synth.h"

namespace numatrace::test {

using namespace numatrace::gguf;

namespace {

KeyValue kv_u16(std::string_view k, uint64_t v) {
  return {std::string(k), Value::of(ValueType::u16, v)};
}
KeyValue kv_i32(std::string_view k, int64_t v) {
  return {std::string(k), Value::of_signed(ValueType::i32, v)};
}

std::string name(unsigned no, unsigned count) {
  return split_path("m", no, count);
}

void put_u32(std::vector<std::byte>& b, size_t at, uint32_t v) {
  std::memcpy(b.data() + at, &v, 4);
}
void put_i64(std::vector<std::byte>& b, size_t at, int64_t v) {
  std::memcpy(b.data() + at, &v, 8);
}

// A whole valid model as corpus files, ready to mutate.
std::vector<CorpusFile> model_files(const std::vector<FileSpec>& specs) {
  std::vector<CorpusFile> out;
  auto count = static_cast<unsigned>(specs.size());
  for (unsigned i = 0; i < count; ++i) out.push_back({name(i, count), bytes_of(specs[i])});
  return out;
}

// One file made of a raw header plus `data_bytes` zero bytes after it,
// aligned to 32.
std::vector<std::byte> raw_file(uint32_t version, const std::vector<KeyValue>& kvs,
                                const std::vector<RawTensorInfo>& tensors, uint64_t data_bytes) {
  auto b = serialize_header(version, kvs, tensors);
  b.resize(align_up(b.size(), kDefaultAlignment) + data_bytes, std::byte{0});
  return b;
}

CorpusCase single(std::string case_name, std::string code, std::vector<std::byte> bytes) {
  return {std::move(case_name), std::move(code), "single.gguf", {{"single.gguf", std::move(bytes)}}};
}

}  // namespace

std::vector<FileSpec> small_model_specs(unsigned splits) {
  std::vector<FileSpec> specs(splits);
  unsigned total = 0;
  for (unsigned s = 0; s < splits; ++s) {
    for (unsigned t = 0; t < 3; ++t) {
      std::string n = "blk." + std::to_string(s) + ".t" + std::to_string(t) + ".weight";
      // Sizes that need padding (36 bytes for a Q8_0 row of 32) exercise the
      // padded running sum.
      specs[s].tensors.push_back({n, {32, 1 + t}, t == 1 ? GgmlType::q8_0 : GgmlType::f32});
      ++total;
    }
  }
  for (unsigned s = 0; s < splits; ++s) {
    if (s == 0) specs[s].kvs.push_back({"general.architecture", Value::of_string("llama")});
    specs[s].kvs.push_back({std::string(kKeySeed), Value::of(ValueType::u64, kDefaultSeed)});
    if (splits > 1) {
      specs[s].kvs.push_back(kv_u16(kKeySplitNo, s));
      specs[s].kvs.push_back(kv_u16(kKeySplitCount, splits));
      specs[s].kvs.push_back(kv_i32(kKeySplitTensorsCount, total));
    }
  }
  return specs;
}

std::vector<std::byte> bytes_of(const FileSpec& spec) {
  return write_memory(spec, [](const TensorSpec& t, uint64_t off,
                               std::span<std::byte> out) { fill_tensor_bytes(t.name, t.type, kDefaultSeed, off, out); })
      .value();
}

std::vector<CorpusCase> malformed_corpus() {
  std::vector<CorpusCase> c;
  const auto specs = small_model_specs(3);
  const auto valid = model_files(specs);
  const std::vector<KeyValue> arch = {{"general.architecture", Value::of_string("llama")}};
  const RawTensorInfo t0{"a", {32}, 0, 0};  // 128 bytes of F32

  // Header fields.
  {
    auto b = bytes_of(specs[0]);
    b.resize(3);
    c.push_back(single("truncated-magic", "GG002", b));
  }
  {
    auto b = bytes_of(specs[0]);
    b.resize(20);
    c.push_back(single("truncated-counts", "GG002", b));
  }
  {
    auto b = bytes_of(specs[0]);
    b.resize(180);  // inside the type field of kv[4]
    c.push_back(single("truncated-kv", "GG002", b));
  }
  {
    auto b = bytes_of(specs[0]);
    put_u32(b, 0, 0x46554746);
    c.push_back(single("bad-magic", "GG003", b));
  }
  for (uint32_t v : {1u, 4u}) {
    auto b = bytes_of(specs[0]);
    put_u32(b, 4, v);
    c.push_back(single("version-" + std::to_string(v), "GG004", b));
  }
  {
    auto b = bytes_of(specs[0]);
    put_i64(b, 8, int64_t{1} << 60);
    c.push_back(single("huge-tensor-count", "GG005", b));
  }
  {
    auto b = bytes_of(specs[0]);
    put_i64(b, 8, -1);
    c.push_back(single("negative-tensor-count", "GG005", b));
  }
  {
    auto b = bytes_of(specs[0]);
    put_i64(b, 16, int64_t{1} << 40);
    c.push_back(single("huge-kv-count", "GG005", b));
  }
  {
    // The first key's length field (right after the 24-byte header).
    auto b = bytes_of(specs[0]);
    put_i64(b, 24, int64_t{1} << 50);
    c.push_back(single("string-past-end", "GG006", b));
  }
  c.push_back(single("tensor-name-too-long", "GG006", raw_file(3, arch, {{std::string(64, 'n'), {32}, 0, 0}}, 128)));
  {
    std::vector<KeyValue> kvs = {{"bad", Value::of(ValueType::u8, 1)}};
    auto b = raw_file(3, kvs, {t0}, 128);
    put_u32(b, 24 + 8 + 3, 77);  // the value type after key "bad"
    c.push_back(single("unknown-value-type", "GG007", b));
  }
  {
    std::vector<KeyValue> kvs = {{"nested", Value::of_array(ValueType::array, {})}};
    c.push_back(single("array-of-arrays", "GG007", raw_file(3, kvs, {t0}, 128)));
  }
  {
    std::vector<KeyValue> kvs = {{"arr", Value::of_array(ValueType::u32, {Value::of(ValueType::u32, 1)})}};
    auto b = raw_file(3, kvs, {t0}, 128);
    put_i64(b, 24 + 8 + 3 + 4 + 4, int64_t{1} << 58);  // the array's count
    c.push_back(single("huge-array-count", "GG005", b));
  }
  c.push_back(single("n-dims-5", "GG008", raw_file(3, arch, {{"a", {32, 1, 1, 1, 1}, 0, 0}}, 128)));
  c.push_back(single("negative-dim", "GG008", raw_file(3, arch, {{"a", {32, -2}, 0, 0}}, 128)));
  c.push_back(
      single("dims-overflow", "GG008", raw_file(3, arch, {{"a", {int64_t{1} << 40, int64_t{1} << 40}, 0, 0}}, 128)));
  c.push_back(single("unknown-ggml-type", "GG009", raw_file(3, arch, {{"a", {32}, 99, 0}}, 128)));
  c.push_back(single("block-mismatch", "GG021", raw_file(3, arch, {{"a", {33}, 8, 0}}, 128)));
  for (uint32_t a : {0u, 48u}) {
    std::vector<KeyValue> kvs = {{"general.alignment", Value::of(ValueType::u32, a)}};
    c.push_back(single("alignment-" + std::to_string(a), "GG010", raw_file(3, kvs, {t0}, 128)));
  }
  {
    std::vector<KeyValue> kvs = {{"general.alignment", Value::of(ValueType::u64, 64)}};
    c.push_back(single("alignment-wrong-type", "GG010", raw_file(3, kvs, {t0}, 128)));
  }
  {
    std::vector<KeyValue> kvs = {arch[0], arch[0]};
    c.push_back(single("duplicate-key", "GG020", raw_file(3, kvs, {t0}, 128)));
  }
  // Tensors and data.
  c.push_back(
      single("tensor-out-of-bounds", "GG012", raw_file(3, arch, {{"a", {32}, 0, 0}, {"b", {32}, 0, 128}}, 200)));
  c.push_back(single("tensor-offset-overflow", "GG012", raw_file(3, arch, {{"a", {32}, 0, ~uint64_t{0} - 8}}, 128)));
  c.push_back(single("tensors-overlap", "GG013", raw_file(3, arch, {{"a", {32}, 0, 0}, {"b", {32}, 0, 64}}, 256)));
  c.push_back(
      single("offset-not-running-sum", "GG011", raw_file(3, arch, {{"a", {32}, 0, 0}, {"b", {32}, 0, 160}}, 320)));
  c.push_back(single("offset-unpadded", "GG011", raw_file(3, arch, {{"a", {32, 1}, 8, 0}, {"b", {32}, 0, 34}}, 256)));
  c.push_back(
      single("duplicate-tensor-in-file", "GG014", raw_file(3, arch, {{"a", {32}, 0, 0}, {"a", {32}, 0, 128}}, 256)));
  {
    // Data section starts past the end of the file.
    auto b = serialize_header(3, arch, std::vector<RawTensorInfo>{t0});
    b.resize(b.size() + 1);
    c.push_back(single("data-past-end", "GG002", b));
  }

  // Splits.
  {
    auto files = valid;
    files.erase(files.begin() + 1);
    c.push_back({"missing-split", "GG016", name(0, 3), files});
  }
  {
    auto s = specs;
    s[2].kvs[1] = kv_u16(kKeySplitNo, 1);
    c.push_back({"wrong-split-no", "GG015", name(0, 3), model_files(s)});
  }
  {
    auto s = specs;
    s[0].kvs[2] = kv_u16(kKeySplitNo, 1);
    c.push_back({"first-split-no-not-0", "GG015", name(0, 3), model_files(s)});
  }
  {
    auto s = specs;
    s[1].kvs[2] = kv_u16(kKeySplitCount, 4);
    c.push_back({"split-count-disagrees", "GG017", name(1, 3), model_files(s)});
  }
  {
    auto s = specs;
    s[1].tensors[0].name = s[0].tensors[2].name;
    c.push_back({"duplicate-tensor-across-splits", "GG014", name(0, 3), model_files(s)});
  }
  {
    auto s = specs;
    s[0].kvs[4] = kv_i32(kKeySplitTensorsCount, 10);
    c.push_back({"split-tensors-count-mismatch", "GG018", name(0, 3), model_files(s)});
  }
  {
    auto s = specs;
    s[0].kvs[2] = {std::string(kKeySplitNo), Value::of(ValueType::u32, 0)};
    c.push_back({"split-key-wrong-type", "GG019", name(0, 3), model_files(s)});
  }
  {
    auto files = valid;
    files[0].name = "unsplit.gguf";
    c.push_back({"split-name-not-derivable", "GG016", "unsplit.gguf", files});
  }
  {
    auto files = valid;
    files[2].bytes.resize(files[2].bytes.size() / 2);
    c.push_back({"split-truncated", "GG012", name(0, 3), files});
  }
  return c;
}

void PrintTo(const CorpusCase& c, std::ostream* os) {
  *os << c.name << " (" << c.expected_code << ")";
}

bool write_corpus(const std::string& dir, const std::vector<CorpusCase>& cases) {
  ::mkdir(dir.c_str(), 0755);
  for (const auto& k : cases) {
    std::string d = dir + "/" + k.name;
    ::mkdir(d.c_str(), 0755);
    for (const auto& f : k.files) {
      std::FILE* fp = std::fopen((d + "/" + f.name).c_str(), "wb");
      if (!fp) return false;
      bool ok = std::fwrite(f.bytes.data(), 1, f.bytes.size(), fp) == f.bytes.size();
      ok = std::fclose(fp) == 0 && ok;
      if (!ok) return false;
    }
    std::FILE* fp = std::fopen((d + "/EXPECT").c_str(), "w");
    if (!fp) return false;
    std::fprintf(fp, "%s %s\n", k.expected_code.c_str(), k.open.c_str());
    if (std::fclose(fp) != 0) return false;
  }
  return true;
}

}  // namespace numatrace::test
