#include "numatrace/gguf/synth.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "numatrace/gguf/codes.h"
#include "numatrace/gguf/model.h"

namespace numatrace::gguf {

namespace {

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Clearing this bit of the most significant byte of every f16 or f32
// element caps its exponent below the all-ones pattern and the magnitude
// below 2: the values are finite, so a real llama.cpp computes with them
// (no NaN or infinity), and each byte still depends on its position alone.
unsigned top_byte_stride(GgmlType type) {
  return type == GgmlType::f16 ? 2 : type == GgmlType::f32 ? 4 : 0;
}
constexpr uint8_t kExponentTopBit = 0x40;

// Calls fn(j, expected byte) for each byte of [offset, offset + n).
template <class Fn>
void for_each_expected(std::string_view name, GgmlType type, uint64_t seed, uint64_t offset, size_t n, Fn&& fn) {
  const uint64_t key = fnv1a(name) ^ seed;
  const unsigned stride = top_byte_stride(type);
  size_t j = 0;
  while (j < n) {
    uint64_t p = offset + j;
    uint64_t word = splitmix64(key + p / 8);
    for (unsigned b = static_cast<unsigned>(p % 8); b < 8 && j < n; ++b, ++j) {
      auto v = static_cast<uint8_t>(word >> (8 * b));
      if (stride && b % stride == stride - 1) v &= static_cast<uint8_t>(~kExponentTopBit);
      fn(j, static_cast<std::byte>(v));
    }
  }
}

Error plan_error(std::string field, std::string message) {
  return Error{ErrorKind::invalid, "GEN", "gen-model", std::move(field), std::move(message)};
}

// llama.cpp's LLAMA_FTYPE for a model whose matrices are of `type`
// (MOSTLY_F16 = 1, ...); ALL_F32 = 0. Informational: the loader reads each
// tensor's own type.
uint32_t file_type_of(GgmlType type) {
  switch (type) {
    case GgmlType::f32: return 0;
    case GgmlType::f16: return 1;
    case GgmlType::q4_0: return 2;
    case GgmlType::q4_1: return 3;
    case GgmlType::q8_0: return 7;
    case GgmlType::q5_0: return 8;
    case GgmlType::q5_1: return 9;
    case GgmlType::bf16: return 32;
    default: return 1;
  }
}

// A small SentencePiece ("llama") vocabulary of exactly n_vocab tokens:
// <unk>, <s>, </s>, the 256 byte tokens, a few words, then filler pieces.
// Real llama.cpp tokenizes and generates with it.
std::vector<KeyValue> spm_tokenizer(uint64_t n_vocab) {
  enum : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kByte = 6 };
  std::vector<Value> tokens, scores, types;
  auto add = [&](std::string piece, int32_t type) {
    scores.push_back(Value::of_float(ValueType::f32, -static_cast<double>(tokens.size())));
    tokens.push_back(Value::of_string(std::move(piece)));
    types.push_back(Value::of_signed(ValueType::i32, type));
  };
  add("<unk>", kUnknown);
  add("<s>", kControl);
  add("</s>", kControl);
  for (int b = 0; b < 256; ++b) {
    char hexbyte[8];
    std::snprintf(hexbyte, sizeof hexbyte, "<0x%02X>", b);
    add(hexbyte, kByte);
  }
  const std::string space = "\xe2\x96\x81";  // U+2581, SentencePiece's word start
  for (const char* w : {"hello", "world", "numa", "node", "model", "the", "a", "of", "and", "to"})
    add(space + w, kNormal);
  for (uint64_t i = 0; tokens.size() < n_vocab; ++i) {
    std::string piece = space;  // "▁AAB", "▁BAB", ...: distinct, upper case, so never a word above
    for (uint64_t k = i + uint64_t{26} * 26; k; k /= 26) piece += static_cast<char>('A' + k % 26);
    add(piece, kNormal);
  }
  auto id = [](uint64_t v) { return Value::of(ValueType::u32, v); };
  return {
      {"tokenizer.ggml.model", Value::of_string("llama")},
      {"tokenizer.ggml.pre", Value::of_string("default")},
      {"tokenizer.ggml.tokens", Value::of_array(ValueType::string, std::move(tokens))},
      {"tokenizer.ggml.scores", Value::of_array(ValueType::f32, std::move(scores))},
      {"tokenizer.ggml.token_type", Value::of_array(ValueType::i32, std::move(types))},
      {"tokenizer.ggml.bos_token_id", id(1)},
      {"tokenizer.ggml.eos_token_id", id(2)},
      {"tokenizer.ggml.unknown_token_id", id(0)},
      {"tokenizer.ggml.add_bos_token", Value::of_bool(true)},
  };
}

}  // namespace

void fill_tensor_bytes(std::string_view name, GgmlType type, uint64_t seed, uint64_t offset, std::span<std::byte> out) {
  for_each_expected(name, type, seed, offset, out.size(), [&](size_t j, std::byte v) { out[j] = v; });
}

std::optional<uint64_t> verify_tensor_bytes(std::string_view name, GgmlType type, uint64_t seed, uint64_t offset,
                                            std::span<const std::byte> data) {
  std::optional<uint64_t> bad;
  for_each_expected(name, type, seed, offset, data.size(), [&](size_t j, std::byte v) {
    if (!bad && data[j] != v) bad = offset + j;
  });
  return bad;
}

Result<SynthPlan> plan_model(const SynthOptions& o) {
  if (o.target_bytes == 0) return plan_error("size", "must be above 0");
  if (o.alignment == 0 || (o.alignment & (o.alignment - 1)) != 0)
    return plan_error("alignment", std::to_string(o.alignment) + " is not a power of two");
  auto traits = type_traits(static_cast<int32_t>(o.type));
  if (!traits) return plan_error("type", "unknown tensor type");

  // The widest n_embd (multiple of 256, so every block size fits) whose
  // layer stays under an eighth of the target: small targets still get
  // several layers, hence several tensors per split.
  const uint64_t bpe_num = traits->block_bytes, bpe_den = traits->block_elements;
  auto matrix = [&](uint64_t rows, uint64_t cols) { return rows * cols / bpe_den * bpe_num; };
  uint64_t n_embd = 256;
  for (uint64_t e : {512u, 1024u, 2048u, 4096u, 8192u}) {
    uint64_t layer = 4 * matrix(e, e) + 3 * matrix(e, 3 * e);
    if (layer * 8 <= o.target_bytes) n_embd = e;
  }
  const uint64_t n_ff = 3 * n_embd, n_vocab = 4 * n_embd;
  const uint64_t layer_bytes = 4 * matrix(n_embd, n_embd) + 3 * matrix(n_embd, n_ff) + 2 * n_embd * 4;
  const uint64_t fixed = 2 * matrix(n_embd, n_vocab) + n_embd * 4;
  uint64_t layers = o.target_bytes > fixed ? (o.target_bytes - fixed) / layer_bytes : 0;
  layers = std::max<uint64_t>(o.layers ? o.layers : layers, 1);
  if (layers > 100000) return plan_error("size", "too large");

  SynthPlan p;
  p.alignment = o.alignment;
  p.seed = o.seed;
  auto e = static_cast<int64_t>(n_embd), ff = static_cast<int64_t>(n_ff), v = static_cast<int64_t>(n_vocab);
  p.tensors.push_back({"token_embd.weight", {e, v}, o.type});
  for (uint64_t l = 0; l < layers; ++l) {
    std::string b = "blk." + std::to_string(l) + ".";
    p.tensors.push_back({b + "attn_norm.weight", {e}, GgmlType::f32});
    p.tensors.push_back({b + "attn_q.weight", {e, e}, o.type});
    p.tensors.push_back({b + "attn_k.weight", {e, e}, o.type});
    p.tensors.push_back({b + "attn_v.weight", {e, e}, o.type});
    p.tensors.push_back({b + "attn_output.weight", {e, e}, o.type});
    p.tensors.push_back({b + "ffn_norm.weight", {e}, GgmlType::f32});
    p.tensors.push_back({b + "ffn_gate.weight", {e, ff}, o.type});
    p.tensors.push_back({b + "ffn_down.weight", {ff, e}, o.type});
    p.tensors.push_back({b + "ffn_up.weight", {e, ff}, o.type});
  }
  p.tensors.push_back({"output_norm.weight", {e}, GgmlType::f32});
  p.tensors.push_back({"output.weight", {e, v}, o.type});

  auto u32 = [](uint64_t x) { return Value::of(ValueType::u32, x); };
  const uint64_t n_head = n_embd / 64;
  p.metadata = {
      {"general.architecture", Value::of_string("llama")},
      {"general.name", Value::of_string("numa-trace synthetic llama")},
      {"general.file_type", u32(file_type_of(o.type))},
      {"llama.context_length", u32(4096)},
      {"llama.embedding_length", u32(n_embd)},
      {"llama.block_count", u32(layers)},
      {"llama.feed_forward_length", u32(n_ff)},
      {"llama.attention.head_count", u32(n_head)},
      {"llama.attention.head_count_kv", u32(n_head)},
      {"llama.rope.dimension_count", u32(n_embd / n_head)},
      {"llama.attention.layer_norm_rms_epsilon", Value::of_float(ValueType::f32, 1e-5)},
      {"llama.vocab_size", u32(n_vocab)},
  };
  auto tokenizer = spm_tokenizer(n_vocab);
  p.metadata.insert(p.metadata.end(), tokenizer.begin(), tokenizer.end());

  // Cut into splits.
  std::vector<uint64_t> sizes;
  uint64_t total = 0;
  for (const auto& t : p.tensors) {
    sizes.push_back(align_up(tensor_bytes(t).value(), o.alignment));
    total += sizes.back();
  }
  const size_t n = p.tensors.size();
  if (o.splits > n)
    return plan_error("splits", std::to_string(o.splits) + " splits need at least as many tensors; this size gives " +
                                    std::to_string(n) + " (raise --size)");
  p.split_begin.push_back(0);
  uint64_t cum = 0, in_split = 0, tensors_in_split = 0;
  for (size_t i = 0; i < n; ++i) {
    if (tensors_in_split > 0) {
      bool cut = false;
      if (o.splits > 0) {
        size_t s = p.split_begin.size();    // splits started so far
        bool must = n - i == o.splits - s;  // one tensor left per remaining split
        bool want = s < o.splits && cum * o.splits >= s * total;
        cut = must || want;
      }
      if (o.max_tensors_per_split && tensors_in_split >= o.max_tensors_per_split) cut = true;
      if (o.max_bytes_per_split && in_split + sizes[i] > o.max_bytes_per_split) cut = true;
      if (cut) {
        p.split_begin.push_back(i);
        in_split = tensors_in_split = 0;
      }
    }
    cum += sizes[i];
    in_split += sizes[i];
    ++tensors_in_split;
  }
  if (o.splits > 0 && p.split_begin.size() != o.splits)
    return plan_error("splits", "the limits given allow " + std::to_string(p.split_begin.size()) + " splits, not " +
                                    std::to_string(o.splits));
  if (p.split_begin.size() > 65535) return plan_error("splits", "more than 65535 splits");
  return p;
}

Result<std::vector<std::string>> write_model(const std::string& prefix, const SynthPlan& plan,
                                             const ProgressFn& progress) {
  const auto count = static_cast<unsigned>(plan.split_begin.size());
  uint64_t total = 0, done = 0;
  for (const auto& t : plan.tensors) total += tensor_bytes(t).value();
  auto fill = [&](const TensorSpec& t, uint64_t offset, std::span<std::byte> out) {
    fill_tensor_bytes(t.name, t.type, plan.seed, offset, out);
    done += out.size();
    if (progress) progress(done, total);
  };
  std::vector<std::string> paths;
  for (unsigned s = 0; s < count; ++s) {
    FileSpec spec;
    spec.alignment = plan.alignment;
    size_t begin = plan.split_begin[s];
    size_t end = s + 1 < count ? plan.split_begin[s + 1] : plan.tensors.size();
    if (s == 0) spec.kvs = plan.metadata;
    spec.kvs.push_back({std::string(kKeySeed), Value::of(ValueType::u64, plan.seed)});
    if (count > 1) {
      spec.kvs.push_back({std::string(kKeySplitNo), Value::of(ValueType::u16, s)});
      spec.kvs.push_back({std::string(kKeySplitCount), Value::of(ValueType::u16, count)});
      spec.kvs.push_back({std::string(kKeySplitTensorsCount),
                          Value::of_signed(ValueType::i32, static_cast<int64_t>(plan.tensors.size()))});
    }
    spec.tensors.assign(plan.tensors.begin() + static_cast<ptrdiff_t>(begin),
                        plan.tensors.begin() + static_cast<ptrdiff_t>(end));
    std::string path = count > 1 ? split_path(prefix, s, count) : prefix + ".gguf";
    // Written beside and renamed, so an interrupted run leaves no file that
    // looks complete.
    // A leftover at the temporary name (an interrupted run's file, or a
    // symlink planted there) is removed, never written through: unlink
    // takes the link itself, and write_file creates with O_EXCL.
    std::string tmp = path + ".tmp";
    if (::unlink(tmp.c_str()) != 0 && errno != ENOENT)
      return Error{ErrorKind::io, std::string(code::io), tmp, "", std::string("unlink: ") + std::strerror(errno)};
    auto w = write_file(tmp, spec, fill);
    if (!w) {
      std::remove(tmp.c_str());
      return w.error();
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      return Error{ErrorKind::io, std::string(code::io), path, "", std::string("rename: ") + std::strerror(errno)};
    paths.push_back(path);
  }
  return paths;
}

}  // namespace numatrace::gguf
