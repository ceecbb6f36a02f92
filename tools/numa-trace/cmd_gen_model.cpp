// numa-trace gen-model: writes the synthetic llama-shaped model that the
// demo and the tests load.
#include <csignal>
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "numatrace/gguf/synth.h"

namespace numatrace::cli {

namespace {

struct GenOptions {
  std::string prefix;
  gguf::SynthOptions synth;
  std::string type = "f16";
  bool json = false;
};

int run_gen_model(const GenOptions& o) {
  gguf::SynthOptions so = o.synth;
  auto type = gguf::type_from_name(o.type);
  if (!type) {
    std::fprintf(stderr,
                 "numa-trace gen-model: --type %s: unknown tensor type (try f32, f16, bf16, q8_0, q4_0, q4_k, q6_k)\n",
                 o.type.c_str());
    return kUsage;
  }
  so.type = *type;
  auto plan = gguf::plan_model(so);
  if (!plan) {
    std::fprintf(stderr, "numa-trace gen-model: --%s: %s\n", plan.error().field.c_str(), plan.error().message.c_str());
    return kUsage;
  }
  // Past RLIMIT_FSIZE a write fails with EFBIG and says so, rather than
  // the kernel's SIGXFSZ killing the command mid-file.
  std::signal(SIGXFSZ, SIG_IGN);
  Progress progress("writing " + o.prefix);
  auto paths = gguf::write_model(o.prefix, *plan, [&](uint64_t d, uint64_t t) { progress.update(d, t); });
  progress.finish();
  if (!paths) {
    return unusable(paths.error());
  }
  if (o.json) {
    nlohmann::ordered_json j;
    j["files"] = *paths;
    j["tensors"] = plan->tensors.size();
    j["seed"] = plan->seed;
    std::printf("%s\n", json_text(j).c_str());
  } else {
    for (const auto& p : *paths) std::printf("%s\n", p.c_str());
  }
  return kOk;
}

}  // namespace

Command add_gen_model(CLI::App& app) {
  auto o = std::make_shared<GenOptions>();
  auto* sub = app.add_subcommand(
      "gen-model",
      "Write a synthetic llama-shaped model (token_embd, blk.N.attn_*/ffn_*, output) split into several GGUF "
      "files named PREFIX-NNNNN-of-NNNNN.gguf. Every byte of every tensor is a function of the tensor's name, "
      "the offset and the seed, so a loader's reads can be verified later.");
  sub->add_option("prefix", o->prefix, "Output prefix, e.g. /tmp/model writes /tmp/model-00001-of-00006.gguf ...")
      ->required();
  sub->add_option("--size", o->synth.target_bytes, "Approximate total tensor bytes (64M, 1G, ...)")
      ->transform(CLI::AsSizeValue(false))
      ->default_str("64M");
  sub->add_option("--splits", o->synth.splits, "Number of files (0: decided by the limits below, else 1)")
      ->default_val(0);
  sub->add_option("--max-tensors", o->synth.max_tensors_per_split, "At most this many tensors per file");
  sub->add_option("--layers", o->synth.layers,
                  "Transformer blocks (9 tensors each; the width still follows --size): many tensors in a small "
                  "model with a small --type")
      ->check(CLI::Range(1, 100000));
  sub->add_option("--max-bytes", o->synth.max_bytes_per_split, "At most this many tensor bytes per file")
      ->transform(CLI::AsSizeValue(false));
  sub->add_option("--type", o->type, "ggml type of the weight matrices (norms are F32)")->default_val("f16");
  sub->add_option("--alignment", o->synth.alignment, "general.alignment, a power of two")->default_val(32);
  sub->add_option("--seed", o->synth.seed, "Seed of the tensor contents (stored as numa_trace.seed)");
  sub->add_flag("--json", o->json, "Print the files written as JSON");
  return {sub, [o] { return run_gen_model(*o); }};
}

}  // namespace numatrace::cli
