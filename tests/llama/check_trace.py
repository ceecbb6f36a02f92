#!/usr/bin/env python3
"""The trace of a real llama.cpp load against the model itself.

usage: check_trace.py INSPECT.json EVENTS.jsonl REPORT.json CHROME.json REPORT.txt

INSPECT.json is `numa-trace inspect FIRST --tensors --json`; EVENTS.jsonl the
run's --jsonl sink; REPORT.json and REPORT.txt `numa-trace report`;
CHROME.json its --chrome-trace. Every tensor must be resolved exactly once
with inspect's file idx, offset and size, in every output; one per-file
mapping per split, of the split's size, naming its file idx and path.
Prints a summary; exit 1 with every difference listed when any.
"""
import json
import sys

inspect_path, events_path, report_path, chrome_path, text_path = sys.argv[1:6]
model = json.load(open(inspect_path))
problems = []

want = {t["name"]: (t["file_idx"], t["offset"], t["size"]) for t in model["tensors"]}
events = [json.loads(line) for line in open(events_path) if line.strip()]
resolves = [e for e in events if e["type"] == "resolve"]
seen = {}
for e in resolves:
    seen.setdefault(e["tensor"], []).append((e["file_idx"], e["offset"], e["size"]))
for name, where in sorted(want.items()):
    got = seen.get(name, [])
    if len(got) != 1:
        problems.append(f"{name}: resolved {len(got)} times, want once")
    elif got[0] != where:
        problems.append(f"{name}: resolved as (file, offset, size) {got[0]}, inspect says {where}")
for name in sorted(set(seen) - set(want)):
    problems.append(f"{name}: resolved but not in the model")

report = json.load(open(report_path))
files = {f["idx"]: f for f in model["files"]}
mappings = report["mappings"]
if len(mappings) != len(files):
    problems.append(f"{len(mappings)} mappings, want one per split ({len(files)})")
for m in mappings:
    if m["kind"] != "per-file":
        problems.append(f"slot {m['slot']}: kind {m['kind']}, want per-file")
        continue
    f = files.get(m["slot"])
    if f is None:
        problems.append(f"slot {m['slot']}: no split of that idx")
        continue
    if m["length"] != f["size"]:
        problems.append(f"slot {m['slot']}: length {m['length']}, split {f['path']} has {f['size']} bytes")
    if m.get("files") != [{"file_idx": f["idx"], "path": f["path"]}]:
        problems.append(f"slot {m['slot']}: files {m.get('files')}, want file {f['idx']} {f['path']}")
total = sum(r["count"] for r in report["resolves"])
if total != len(want):
    problems.append(f"report --json counts {total} resolves, the model has {len(want)} tensors")
# NT015 is advice a NUMA machine may rightly give; anything else is wrong.
if [f for f in report["findings"] if f["code"] != "NT015"]:
    problems.append(f"report --json has findings: {report['findings']}")
# Remote reads: every resolved byte counted, with its thread's node and its
# pages' placement (sampled when the splits are unmapped) known.
rr = report["remote_reads"]
resolved = sum(r["bytes"] for r in report["resolves"])
if rr["bytes"] != resolved or rr["not_sampled_bytes"] or rr["unknown_node_bytes"] or rr["unattributed_bytes"]:
    problems.append(f"remote reads: {rr['bytes']} of {resolved} resolved bytes judged "
                    f"(not sampled {rr['not_sampled_bytes']}, unknown node {rr['unknown_node_bytes']}, "
                    f"through no mapping {rr['unattributed_bytes']})")
if {c["file_idx"] for c in rr["cells"]} != set(files):
    problems.append(f"remote reads: cells for files {sorted({c['file_idx'] for c in rr['cells']})}, want {sorted(files)}")

chrome = json.load(open(chrome_path))["traceEvents"]
spans = {}
for e in chrome:
    if e.get("cat") == "resolve":
        a = e["args"]
        spans.setdefault(e["name"], []).append((a["file_idx"], a["offset"], a["size"]))
    if e.get("args") is None:
        problems.append(f"chrome trace event {e.get('name')} has null args")
if spans != {k: [v] for k, v in want.items()}:
    problems.append("chrome trace resolves differ from the model's tensors")

text = open(text_path).read()
for f in files.values():
    if not any(line.split()[:1] == [str(f["idx"])] and line.rstrip().endswith(f"{f['idx']} {f['path']}")
               for line in text.splitlines()):
        problems.append(f"report text: no mapping row naming file {f['idx']} {f['path']}")

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"{len(want)} tensors resolved once each as inspect says; {len(mappings)} per-file mappings of the splits' sizes")
