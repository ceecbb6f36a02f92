#include <gtest/gtest.h>

#include "numatrace/gguf/model.h"
#include "numatrace/gguf/types.h"

using namespace numatrace::gguf;

namespace {

uint64_t bytes(GgmlType t, int64_t ne0, int64_t ne1 = 1) {
  return tensor_bytes(t, {ne0, ne1, 1, 1}).value();
}

TEST(Types, ByteSizesMatchGgmlBlockLayouts) {
  EXPECT_EQ(bytes(GgmlType::f32, 4096, 2), 4096u * 2 * 4);
  EXPECT_EQ(bytes(GgmlType::f16, 4096, 2), 4096u * 2 * 2);
  EXPECT_EQ(bytes(GgmlType::bf16, 4096, 2), 4096u * 2 * 2);
  EXPECT_EQ(bytes(GgmlType::q8_0, 4096, 2), 4096u / 32 * 34 * 2);  // d (f16) + 32 x int8
  EXPECT_EQ(bytes(GgmlType::q4_0, 4096, 2), 4096u / 32 * 18 * 2);  // d (f16) + 16 bytes of nibbles
  EXPECT_EQ(bytes(GgmlType::q4_k, 4096, 2), 4096u / 256 * 144 * 2);
  EXPECT_EQ(bytes(GgmlType::q6_k, 4096, 2), 4096u / 256 * 210 * 2);
}

TEST(Types, RowNotMultipleOfBlockHasNoSize) {
  EXPECT_FALSE(tensor_bytes(GgmlType::q4_k, {128, 1, 1, 1}));
  EXPECT_FALSE(tensor_bytes(GgmlType::q8_0, {33, 1, 1, 1}));
  EXPECT_FALSE(tensor_bytes(GgmlType::f32, {-1, 1, 1, 1}));
  EXPECT_FALSE(tensor_bytes(GgmlType::f32, {int64_t{1} << 62, 4, 1, 1}));
}

TEST(Types, NamesRoundTrip) {
  EXPECT_EQ(type_from_name("q8_0"), GgmlType::q8_0);
  EXPECT_EQ(type_from_name("Q6_K"), GgmlType::q6_k);
  EXPECT_EQ(type_from_name("bf16"), GgmlType::bf16);
  EXPECT_FALSE(type_from_name("q9_9"));
  EXPECT_FALSE(type_traits(4));  // Q4_2 was removed from ggml
}

TEST(Splits, PathNamesAreOneBasedWithFiveDigits) {
  EXPECT_EQ(split_path("/m/x", 0, 6), "/m/x-00001-of-00006.gguf");
  EXPECT_EQ(split_path("x", 11, 12), "x-00012-of-00012.gguf");
}

TEST(Splits, ParseSplitPath) {
  auto s = parse_split_path("/a/b-c-00003-of-00006.gguf");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->prefix, "/a/b-c");
  EXPECT_EQ(s->no, 2u);
  EXPECT_EQ(s->count, 6u);
  EXPECT_FALSE(parse_split_path("x-00007-of-00006.gguf"));
  EXPECT_FALSE(parse_split_path("x-00000-of-00006.gguf"));
  EXPECT_FALSE(parse_split_path("x-0001-of-00006.gguf"));
  EXPECT_FALSE(parse_split_path("x.gguf"));
  EXPECT_FALSE(parse_split_path("-00001-of-00001.gguf"));
}

TEST(Layout, PackedIsTheRunningSumOfFileSizes) {
  std::vector<uint64_t> sizes = {5000, 100, 8192};
  auto l = unified_layout(sizes, Packing::packed, 4096).value();
  ASSERT_EQ(l.extents.size(), 3u);
  EXPECT_EQ(l.extents[0].offset, 0u);
  EXPECT_EQ(l.extents[1].offset, 5000u);
  EXPECT_EQ(l.extents[2].offset, 5100u);
  EXPECT_EQ(l.total, 13292u);
}

TEST(Layout, PageAlignedStartsEachFileOnAPage) {
  std::vector<uint64_t> sizes = {5000, 100, 8192};
  auto l = unified_layout(sizes, Packing::page_aligned, 4096).value();
  EXPECT_EQ(l.extents[1].offset, 8192u);
  EXPECT_EQ(l.extents[2].offset, 12288u);
  EXPECT_EQ(l.total, 20480u);
  auto huge = unified_layout(sizes, Packing::page_aligned, 2u << 20).value();
  EXPECT_EQ(huge.extents[2].offset, 4u << 20);
  EXPECT_FALSE(unified_layout(sizes, Packing::packed, 3000));
}

TEST(Layout, OverflowIsAnError) {
  std::vector<uint64_t> sizes = {~uint64_t{0} - 10, 100};
  EXPECT_FALSE(unified_layout(sizes, Packing::packed, 4096));
}

}  // namespace
