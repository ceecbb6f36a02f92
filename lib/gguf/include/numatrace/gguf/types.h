// GGUF v3 data model: value types, ggml tensor types and their byte sizes,
// key/value pairs, tensor infos. Facts: docs/llama-loader.md.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace numatrace::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little endian
inline constexpr uint32_t kDefaultAlignment = 32;
inline constexpr uint32_t kMaxDims = 4;       // GGML_MAX_DIMS
inline constexpr size_t kMaxNameLength = 63;  // GGML_MAX_NAME - 1

enum class ValueType : uint32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12,
};
inline constexpr uint32_t kValueTypeCount = 13;
std::string_view value_type_name(ValueType t);

// ggml tensor types, numbered as in ggml.h. Only types with a fixed block
// layout are listed; anything else is rejected by the reader (GG009).
enum class GgmlType : int32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  q8_k = 15,
  i8 = 24,
  i16 = 25,
  i32 = 26,
  i64 = 27,
  f64 = 28,
  bf16 = 30,
};

struct TypeTraits {
  std::string_view name;
  uint32_t block_elements;  // elements per block
  uint32_t block_bytes;     // bytes per block
};
// Traits of a ggml type number; nullopt for numbers not in GgmlType.
std::optional<TypeTraits> type_traits(int32_t type);
std::optional<GgmlType> type_from_name(std::string_view name);  // "f16", "Q8_0", ...

struct Value;
struct Array {
  ValueType element_type = ValueType::u8;
  std::vector<Value> items;
};

struct Value {
  ValueType type = ValueType::u8;
  // Integers of every width live in uint64_t (unsigned) or int64_t (signed),
  // f32/f64 in double; `type` keeps the width for writing back.
  std::variant<uint64_t, int64_t, double, bool, std::string, Array> data;

  static Value of(ValueType t, uint64_t v) { return {t, v}; }
  static Value of_signed(ValueType t, int64_t v) { return {t, v}; }
  static Value of_float(ValueType t, double v) { return {t, v}; }
  static Value of_bool(bool v) { return {ValueType::boolean, v}; }
  static Value of_string(std::string v) { return {ValueType::string, std::move(v)}; }
  static Value of_array(ValueType element, std::vector<Value> items) {
    return {ValueType::array, Array{element, std::move(items)}};
  }

  // Integer value of an integer-typed value, else nullopt.
  std::optional<int64_t> as_int() const;
  const std::string* as_string() const { return std::get_if<std::string>(&data); }
  const Array* as_array() const { return std::get_if<Array>(&data); }
  std::string str() const;  // short human form, arrays abbreviated
};

struct KeyValue {
  std::string key;
  Value value;
};

struct TensorInfo {
  std::string name;
  uint32_t n_dims = 0;
  std::array<int64_t, kMaxDims> ne{1, 1, 1, 1};
  GgmlType type = GgmlType::f32;
  uint64_t offset = 0;  // relative to the data section
  uint64_t size = 0;    // bytes

  uint64_t elements() const;
};

// Bytes of a tensor of `type` with dimensions `ne`; nullopt when ne[0] is not
// a multiple of the block size or the size overflows.
std::optional<uint64_t> tensor_bytes(GgmlType type, const std::array<int64_t, kMaxDims>& ne);

inline constexpr uint64_t align_up(uint64_t v, uint64_t a) {
  return (v + a - 1) / a * a;
}

// One parsed GGUF file.
struct FileInfo {
  std::string path;
  uint64_t file_size = 0;
  uint32_t version = 0;
  uint32_t alignment = kDefaultAlignment;
  uint64_t data_offset = 0;  // absolute offset of the data section
  std::vector<KeyValue> kvs;
  std::vector<TensorInfo> tensors;

  const Value* find(std::string_view key) const;
  uint64_t data_bytes() const;  // sum of tensor sizes with padding
};

}  // namespace numatrace::gguf
