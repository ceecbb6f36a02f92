// The real loader as a test subject: an unmodified prebuilt llama.cpp
// (node-llama-cpp's CPU build, installed by tools/quickstart) loads a split
// model from its first split, evaluates a prompt greedily and prints the
// token ids, one line. Deterministic: the same model gives the same line.
//
//   node client.mjs FIRST_SPLIT [--no-mmap] [--mlock] [--tokens N] [--prompt TEXT] [--wait]
//
// --wait: after the tokens, print "ready" and wait for SIGTERM, SIGHUP,
// SIGINT or SIGQUIT; print "got SIG..." for each one received and exit 0
// half a second after the first (the signal tests count the lines).
//
// NUMA_TRACE_LLAMA_DIR names the folder holding node_modules/node-llama-cpp.
// Exit status: 0 done, 1 the model did not load or evaluate, 2 usage.
import path from "node:path";
import { pathToFileURL } from "node:url";

function usage(msg) {
  process.stderr.write(`client.mjs: ${msg}\nusage: node client.mjs FIRST_SPLIT [--no-mmap] [--mlock] [--tokens N] [--prompt TEXT] [--wait]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const opts = { model: null, useMmap: true, useMlock: false, tokens: 4, prompt: "hello world", wait: false };
for (let i = 0; i < args.length; ++i) {
  const a = args[i];
  if (a === "--no-mmap") opts.useMmap = false;
  else if (a === "--mlock") opts.useMlock = true;
  else if (a === "--tokens") opts.tokens = Number(args[++i]);
  else if (a === "--prompt") opts.prompt = args[++i];
  else if (a === "--wait") opts.wait = true;
  else if (a.startsWith("-")) usage(`unknown option ${a}`);
  else if (opts.model === null) opts.model = a;
  else usage(`unexpected argument ${a}`);
}
if (!opts.model) usage("no model");
if (!Number.isInteger(opts.tokens) || opts.tokens < 1) usage("--tokens takes a whole number above 0");
const dir = process.env.NUMA_TRACE_LLAMA_DIR;
if (!dir) usage("NUMA_TRACE_LLAMA_DIR is not set (tools/quickstart installs node-llama-cpp there)");

const entry = path.join(dir, "node_modules", "node-llama-cpp", "dist", "index.js");
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(entry).href);

try {
  const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath: path.resolve(opts.model), useMmap: opts.useMmap, useMlock: opts.useMlock });
  const context = await model.createContext({ contextSize: 64 });
  const sequence = context.getSequence();
  const out = [];
  for await (const token of sequence.evaluate(model.tokenize(opts.prompt), { temperature: 0 })) {
    out.push(token);
    if (out.length >= opts.tokens) break;
  }
  process.stdout.write(`tokens: ${out.join(" ")}\n`);
  if (opts.wait) {
    await new Promise((resolve) => {
      const alive = setInterval(() => {}, 1 << 30); // a pending promise alone lets node exit
      let first = true;
      for (const sig of ["SIGTERM", "SIGHUP", "SIGINT", "SIGQUIT"])
        process.on(sig, () => {
          process.stdout.write(`got ${sig}\n`);
          if (first)
            setTimeout(() => {
              clearInterval(alive);
              resolve();
            }, 500);
          first = false;
        });
      process.stdout.write("ready\n");
    });
  }
  await context.dispose();
  await model.dispose();
  await llama.dispose();
} catch (e) {
  process.stderr.write(`client.mjs: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
}
