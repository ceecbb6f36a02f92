#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "numatrace/gguf/reader.h"
#include "numatrace/gguf/synth.h"
#include "numatrace/gguf/writer.h"
#include "support/corpus.h"

using namespace numatrace;
using namespace numatrace::gguf;

namespace {

std::span<const std::byte> span_of(const std::vector<std::byte>& b) {
  return {b.data(), b.size()};
}

TEST(ReaderWriter, EveryValueTypeRoundTrips) {
  FileSpec spec;
  spec.kvs = {
      {"u8", Value::of(ValueType::u8, 200)},
      {"i8", Value::of_signed(ValueType::i8, -100)},
      {"u16", Value::of(ValueType::u16, 65000)},
      {"i16", Value::of_signed(ValueType::i16, -32000)},
      {"u32", Value::of(ValueType::u32, 4000000000u)},
      {"i32", Value::of_signed(ValueType::i32, -2000000000)},
      {"u64", Value::of(ValueType::u64, ~uint64_t{0})},
      {"i64", Value::of_signed(ValueType::i64, INT64_MIN)},
      {"f32", Value::of_float(ValueType::f32, 1.5)},
      {"f64", Value::of_float(ValueType::f64, -2.25e300)},
      {"bool", Value::of_bool(true)},
      {"string", Value::of_string("héllo")},
      {"empty", Value::of_string("")},
      {"strings", Value::of_array(ValueType::string, {Value::of_string("a"), Value::of_string("bc")})},
      {"ints",
       Value::of_array(ValueType::i32, {Value::of_signed(ValueType::i32, -1), Value::of_signed(ValueType::i32, 7)})},
      {"none", Value::of_array(ValueType::f64, {})},
  };
  spec.tensors = {{"w", {64, 2}, GgmlType::q8_0}, {"n", {64}, GgmlType::f32}};
  auto bytes = write_memory(spec, [](const TensorSpec&, uint64_t, std::span<std::byte> out) {
                 std::fill(out.begin(), out.end(), std::byte{0x5a});
               }).value();
  auto f = parse(span_of(bytes), "mem").value();
  EXPECT_EQ(f.version, 3u);
  ASSERT_EQ(f.kvs.size(), spec.kvs.size());
  for (size_t i = 0; i < spec.kvs.size(); ++i) {
    SCOPED_TRACE(spec.kvs[i].key);
    EXPECT_EQ(f.kvs[i].key, spec.kvs[i].key);
    EXPECT_EQ(f.kvs[i].value.type, spec.kvs[i].value.type);
    EXPECT_EQ(f.kvs[i].value.str(), spec.kvs[i].value.str());
  }
  EXPECT_EQ(std::get<uint64_t>(f.find("u64")->data), ~uint64_t{0});
  EXPECT_EQ(std::get<int64_t>(f.find("i64")->data), INT64_MIN);
  EXPECT_EQ(f.find("strings")->as_array()->items[1].as_string()->compare("bc"), 0);
  EXPECT_EQ(f.find("ints")->as_array()->items[0].as_int(), -1);
  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_EQ(f.tensors[0].size, 2u * 2 * 34);
  EXPECT_EQ(f.tensors[1].offset, align_up(136, 32));
  EXPECT_EQ(f.data_offset % 32, 0u);
  EXPECT_EQ(f.data_offset + f.data_bytes(), bytes.size());
}

TEST(ReaderWriter, CustomAlignmentIsWrittenAndHonoured) {
  FileSpec spec;
  spec.alignment = 4096;
  spec.tensors = {{"a", {32}, GgmlType::f16}, {"b", {32}, GgmlType::f16}};
  auto bytes = write_memory(spec, [](const TensorSpec&, uint64_t, std::span<std::byte>) {}).value();
  auto f = parse(span_of(bytes), "mem").value();
  EXPECT_EQ(f.alignment, 4096u);
  EXPECT_EQ(f.data_offset, 4096u);
  EXPECT_EQ(f.tensors[1].offset, 4096u);
  EXPECT_EQ(f.find("general.alignment")->as_int(), 4096);
}

TEST(ReaderWriter, WriterRejectsSpecsItCannotLayOut) {
  FileSpec spec;
  spec.tensors = {{"q", {100}, GgmlType::q4_k}};
  EXPECT_EQ(layout_tensors(spec).error().code, "GG021");
  spec.tensors = {{std::string(64, 'x'), {32}, GgmlType::f32}};
  EXPECT_EQ(layout_tensors(spec).error().code, "GG006");
  spec.tensors = {{"x", {}, GgmlType::f32}};
  EXPECT_EQ(layout_tensors(spec).error().code, "GG008");
  spec.alignment = 24;
  EXPECT_EQ(layout_tensors(spec).error().code, "GG010");
}

TEST(ReaderWriter, ContentsAreVerifiableFromNameAndOffset) {
  std::vector<std::byte> a(1000), b(100);
  fill_tensor_bytes("blk.0.attn_q.weight", GgmlType::f16, 7, 0, a);
  fill_tensor_bytes("blk.0.attn_q.weight", GgmlType::f16, 7, 333, b);
  EXPECT_TRUE(std::equal(b.begin(), b.end(), a.begin() + 333));
  EXPECT_FALSE(verify_tensor_bytes("blk.0.attn_q.weight", GgmlType::f16, 7, 0, a));
  EXPECT_EQ(verify_tensor_bytes("blk.0.attn_k.weight", GgmlType::f16, 7, 0, a), 0u);  // another tensor's bytes
  EXPECT_TRUE(verify_tensor_bytes("blk.0.attn_q.weight", GgmlType::f16, 8, 0, a));    // another seed
  a[517] ^= std::byte{1};
  EXPECT_EQ(verify_tensor_bytes("blk.0.attn_q.weight", GgmlType::f16, 7, 0, a), 517u);
}

// Real llama.cpp computes with the generated weights: no NaN, no infinity.
TEST(ReaderWriter, FloatContentsAreFinite) {
  std::vector<std::byte> a(4096), h(4096);
  fill_tensor_bytes("blk.0.attn_norm.weight", GgmlType::f32, 7, 0, a);
  for (size_t i = 0; i < a.size(); i += 4) {
    float v;
    std::memcpy(&v, &a[i], sizeof v);
    ASSERT_TRUE(std::isfinite(v) && std::fabs(v) < 2.0f) << i;
  }
  fill_tensor_bytes("blk.0.attn_q.weight", GgmlType::f16, 7, 3, std::span(h).subspan(1));  // odd start
  for (size_t i = 0; i + 1 < h.size(); i += 2) {
    auto exponent = (static_cast<unsigned>(h[i + 1]) >> 2) & 0x1f;  // element starting at tensor offset i + 2
    ASSERT_LT(exponent, 0x10u) << i;                                // below 2
  }
  EXPECT_FALSE(verify_tensor_bytes("blk.0.attn_q.weight", GgmlType::f16, 7, 3, std::span(h).subspan(1)));
}

// Cutting a valid file anywhere gives an error, never a crash or a read past
// the end (ASan checks the latter: the copy is exactly as long as the cut).
TEST(ReaderWriter, EveryTruncationIsAnError) {
  auto full = test::bytes_of(test::small_model_specs(2)[0]);
  for (size_t n = 0; n < full.size(); ++n) {
    std::vector<std::byte> cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
    auto r = parse(span_of(cut), "cut");
    ASSERT_FALSE(r.ok()) << "cut at " << n;
    // Cut in the header: a field runs past the end (GG002) or a count no
    // longer fits (GG005) or a string length does (GG006); cut in the data:
    // a tensor ends past it (GG012).
    const auto& code = r.error().code;
    EXPECT_TRUE(code == "GG002" || code == "GG005" || code == "GG006" || code == "GG012")
        << n << ": " << r.error().str();
    EXPECT_EQ(r.error().where, "cut");
  }
  EXPECT_TRUE(parse(span_of(full), "full").ok());
}

// Random bytes flipped in the header: the parser may accept or reject, but
// must never crash, hang or read out of bounds.
TEST(ReaderWriter, RandomHeaderCorruptionNeverCrashes) {
  auto full = test::bytes_of(test::small_model_specs(2)[0]);
  const size_t header = parse(span_of(full), "x").value().data_offset;
  uint64_t state = 12345;
  auto next = [&] { return state = state * 6364136223846793005ull + 1442695040888963407ull; };
  for (int i = 0; i < 3000; ++i) {
    auto b = full;
    for (int k = 0; k < 3; ++k) b[next() % header] = static_cast<std::byte>(next() >> 56);
    auto r = parse(span_of(b), "fuzz");
    if (!r) {
      EXPECT_FALSE(r.error().code.empty());
    }
  }
}

}  // namespace
