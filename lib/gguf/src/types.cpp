#include "numatrace/gguf/types.h"

#include <algorithm>
#include <cctype>
#include <limits>

#include "numatrace/gguf/codes.h"

namespace numatrace::gguf {

namespace {

struct TypeRow {
  int32_t id;
  TypeTraits traits;
};

// Block sizes as in ggml's type_traits (QK_K = 256).
constexpr TypeRow kTypes[] = {
    {0, {"F32", 1, 4}},       {1, {"F16", 1, 2}},       {2, {"Q4_0", 32, 18}},    {3, {"Q4_1", 32, 20}},
    {6, {"Q5_0", 32, 22}},    {7, {"Q5_1", 32, 24}},    {8, {"Q8_0", 32, 34}},    {9, {"Q8_1", 32, 36}},
    {10, {"Q2_K", 256, 84}},  {11, {"Q3_K", 256, 110}}, {12, {"Q4_K", 256, 144}}, {13, {"Q5_K", 256, 176}},
    {14, {"Q6_K", 256, 210}}, {15, {"Q8_K", 256, 292}}, {24, {"I8", 1, 1}},       {25, {"I16", 1, 2}},
    {26, {"I32", 1, 4}},      {27, {"I64", 1, 8}},      {28, {"F64", 1, 8}},      {30, {"BF16", 1, 2}},
};

}  // namespace

std::string_view value_type_name(ValueType t) {
  static constexpr std::string_view names[kValueTypeCount] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                                              "bool", "string", "array", "u64", "i64", "f64"};
  auto i = static_cast<uint32_t>(t);
  return i < kValueTypeCount ? names[i] : "?";
}

std::optional<TypeTraits> type_traits(int32_t type) {
  for (const auto& row : kTypes)
    if (row.id == type) return row.traits;
  return std::nullopt;
}

std::optional<GgmlType> type_from_name(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (const auto& row : kTypes)
    if (row.traits.name == upper) return static_cast<GgmlType>(row.id);
  return std::nullopt;
}

std::optional<int64_t> Value::as_int() const {
  if (const auto* u = std::get_if<uint64_t>(&data)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(*u);
  }
  if (const auto* s = std::get_if<int64_t>(&data)) return *s;
  return std::nullopt;
}

std::string Value::str() const {
  struct Visitor {
    std::string operator()(uint64_t v) const { return std::to_string(v); }
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(double v) const { return std::to_string(v); }
    std::string operator()(bool v) const { return v ? "true" : "false"; }
    std::string operator()(const std::string& v) const {
      return "\"" + (v.size() > 60 ? v.substr(0, 57) + "..." : v) + "\"";
    }
    std::string operator()(const Array& a) const {
      std::string s = "[";
      s.append(value_type_name(a.element_type)).append(" x ").append(std::to_string(a.items.size()));
      if (!a.items.empty()) s.append(": ").append(a.items.front().str()).append(a.items.size() > 1 ? ", ..." : "");
      return s.append("]");
    }
  };
  return std::visit(Visitor{}, data);
}

uint64_t TensorInfo::elements() const {
  uint64_t n = 1;
  for (uint32_t i = 0; i < n_dims; ++i) n *= static_cast<uint64_t>(ne[i]);
  return n;
}

std::optional<uint64_t> tensor_bytes(GgmlType type, const std::array<int64_t, kMaxDims>& ne) {
  auto traits = type_traits(static_cast<int32_t>(type));
  if (!traits) return std::nullopt;
  for (auto d : ne)
    if (d < 0) return std::nullopt;
  if (ne[0] % traits->block_elements != 0) return std::nullopt;
  // ggml_nbytes for a contiguous tensor: rows of ne[0]/block blocks.
  int64_t bytes = 0;
  if (__builtin_mul_overflow(ne[0] / traits->block_elements, int64_t{traits->block_bytes}, &bytes)) return std::nullopt;
  for (size_t i = 1; i < kMaxDims; ++i)
    if (__builtin_mul_overflow(bytes, ne[i], &bytes)) return std::nullopt;
  return static_cast<uint64_t>(bytes);
}

const Value* FileInfo::find(std::string_view key) const {
  for (const auto& kv : kvs)
    if (kv.key == key) return &kv.value;
  return nullptr;
}

uint64_t FileInfo::data_bytes() const {
  uint64_t end = 0;
  for (const auto& t : tensors) end = std::max(end, t.offset + align_up(t.size, alignment));
  return end;
}

}  // namespace numatrace::gguf
