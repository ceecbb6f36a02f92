#!/usr/bin/env python3
"""The post-mortem of a crash inside the real llama.cpp's load.

usage: check_crash.py WHERE POSTMORTEM.json POSTMORTEM.txt FIRST_SPLIT

WHERE is the crash shim's NT_CRASH_IN: "alloc:N" (inside ggml_backend_tensor_alloc,
a resolve in flight) or "munmap:N" (after the resolves ended). The verdict
must name the signal, the real fault address (0x0), the GGUF mappings from
both the recorder and NT_FILE, the crashed thread, and a resolve in flight
only when one was.
"""
import json
import re
import sys

where, json_path, text_path, first = sys.argv[1:5]
pm = json.load(open(json_path))
text = open(text_path).read()
problems = []
splits = [re.sub(r"-00001-of-", f"-{i:05d}-of-", first) for i in (1, 2, 3)]

if pm["signal"] != "SIGSEGV" or pm["fault_address"] != "0x0":
    problems.append(f"signal {pm['signal']} at {pm['fault_address']}, want SIGSEGV at 0x0")
if pm["verdict_source"] != "flight recorder":
    problems.append(f"verdict from {pm['verdict_source']}")
slots = sorted((s["slot"], s["kind"], s["state"]) for s in pm["slots"])
if slots != [(i, "per-file", "live") for i in range(3)]:
    problems.append(f"recorder slots {slots}, want 3 live per-file mappings")
mapped = sorted((m["file_idx"], m["path"]) for m in pm["mapped_files"])
if mapped != list(enumerate(splits)):
    problems.append(f"NT_FILE mappings {mapped}, want {list(enumerate(splits))}")
crashed = [t for t in pm["threads"] if t.get("crashed")]
if len(crashed) != 1 or crashed[0]["tid"] != pm["crashed_tid"]:
    problems.append("the crashed thread is not named")
verdict = pm["verdict"]
in_flight = re.search(r"while resolving '([^']+)' \(file (\d) of 3", verdict)
finished = re.search(r"last resolve by this thread \(finished\): '([^']+)'", verdict)
if where.startswith("alloc"):
    if not in_flight:
        problems.append(f"no resolve in flight in: {verdict}")
elif in_flight or not finished:
    problems.append(f"want the last resolve said finished, not in flight: {verdict}")
if verdict not in text:
    problems.append("the text output does not carry the --json verdict")
if problems:
    print("\n".join(problems))
    sys.exit(1)
print(verdict)
