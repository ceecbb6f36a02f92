#!/usr/bin/env bash
# numa-trace run: unmodified and patched loaders, exit statuses, signals,
# ggml's functions interposed, reports and Chrome traces of the traces.
NT=$1 LOADER=$2 GGML_USER=$3 PROBE=$4
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
"$NT" gen-model "$T/m" --splits 6 --size 12M >/dev/null

# What a program sees of its own calls is the same with and without the
# interposer: errno, file offsets (open/read/pread/fopen/fread of a split),
# signal dispositions (an ignored SIGINT stays ignored), the signal mask.
(trap '' INT; exec "$PROBE" "$T/m-00001-of-00006.gguf") >"$T/probe.want" 2>&1
(trap '' INT; exec "$NT" run --no-output -q -- "$PROBE" "$T/m-00001-of-00006.gguf") >"$T/probe.got" 2>"$T/probe.err"
grep -q '^offset after open: 0$' "$T/probe.want" && grep -q '^signal 2: ignored$' "$T/probe.want" && pass ||
  fail "probe without numa-trace: $(cat "$T/probe.want")"
diff -u "$T/probe.want" "$T/probe.got" >"$T/probe.diff" && pass || fail "the program sees its calls differently under numa-trace: $(cat "$T/probe.diff")"

# Unmodified (unhooked) loader: one create and one destroy per split, with
# its file idx as slot.
run "$NT" run -o "$T/plain.nttrace" -- "${LOADER}-unhooked" "$T/m" --verify
expect_rc 0 -- "run the unhooked loader"
run "$NT" report --json "$T/plain.nttrace"
expect_rc 0 -- "report of the unhooked run"
python3 - "$T/out" <<'PY' && pass || fail "unhooked run: a create and a destroy per split"
import json, sys
j = json.load(open(sys.argv[1]))
m = j["mappings"]
assert sorted(x["slot"] for x in m) == list(range(6)), m
assert all(x["kind"] == "per-file" and x["state"] == "destroyed" for x in m), m
assert j["files"] == 6 and j["resolves"] == [], j
PY

# Patched loader: resolves for every tensor, and no duplicate creates.
run "$NT" run -o "$T/hooked.nttrace" -- "$LOADER" "$T/m" --strategy unified --verify
expect_rc 0 -- "run the hooked loader"
run "$NT" report --json "$T/hooked.nttrace"
tensors=$("$NT" inspect "$T/m" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["tensor_count"])')
python3 - "$T/out" "$tensors" <<'PY' && pass || fail "hooked run: a resolve per tensor"
import json, sys
j = json.load(open(sys.argv[1]))
assert sum(r["count"] for r in j["resolves"]) == int(sys.argv[2]), j["resolves"]
assert len(j["mappings"]) == 1 and j["mappings"][0]["kind"] == "unified", j["mappings"]
PY

# Exit statuses: 0, 3, and death by SIGSEGV (128 + 11, said on stderr).
run "$NT" run --no-output -- sh -c 'exit 3'; expect_rc 3 -- "exit status 3 preserved"
run "$NT" run --no-output -- true; expect_rc 0 -- "exit status 0 preserved"
(ulimit -c 0; "$NT" run -o "$T/crash.nttrace" -- "$LOADER" "$T/m" --strategy unified --fault null-slot) >"$T/out" 2>"$T/err"
RC=$?
expect_rc 139 -- "death by SIGSEGV is 139"
expect_grep "$T/err" "numa-trace: .*numa-trace-loader died of SIGSEGV" "death is said"
expect_grep "$T/err" "NT001 .*through slot 1, which is empty" "NT001 printed under run"
run "$NT" report "$T/crash.nttrace"; expect_rc 1 -- "report of the crash"
expect_grep "$T/out" "^crash: SIGSEGV at fault address 0x0" "crash in the report"
expect_grep "$T/out" "^  NT001 x[0-9]+, first: " "the crash explained by NT001"
grep -q "NT013" "$T/out" && fail "NT013 beside NT001: $(cat "$T/out")" || pass
# The same trace without its finding records (as a writer with online
# checks off would leave it): the replay of its events finds NT001 again,
# and says it was not recorded.
python3 - "$T/crash.nttrace" "$T/unchecked.nttrace" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
out, at = bytearray(data[:64]), 64
while at + 8 <= len(data):
    typ, length = struct.unpack_from("<II", data, at)
    end = at + 8 + ((length + 7) & ~7)
    if typ != 5:  # NT_REC_FINDING
        out += data[at:end]
    at = end
open(sys.argv[2], "wb").write(out)
PY
run "$NT" report "$T/unchecked.nttrace"; expect_rc 1 -- "report of the trace without findings"
expect_grep "$T/out" "^  NT001 x([0-9]+) \(\1 found on replay, not recorded\), first: NT001 resolve of " "NT001 found on replay, said"
# A crash no finding explains (a worker's null pointer): NT013.
(ulimit -c 0; "$NT" run -q -o "$T/worker.nttrace" -- "$LOADER" "$T/m" --strategy per-file --fault worker-crash --threads 2) >/dev/null 2>&1
run "$NT" report --json "$T/worker.nttrace"; expect_rc 1 -- "report of the worker crash"
expect_grep "$T/out" '"code": "NT013"' "NT013 for a crash no finding explains"
expect_grep "$T/out" '"first": "NT013 the traced process crashed: signal 11 at fault address 0x0 in thread [0-9]+' "NT013 worded"
run "$NT" run --no-output -- /no/such/program; expect_rc 127 -- "missing program"
run "$NT" run; expect_rc 2 -- "run without a program"

# Signals sent to numa-trace reach the program: sent once the program
# runs (numa-trace's own death by SIGTERM would give 143 too), the program
# ends by it and numa-trace exits as it did.
"$NT" run --no-output -- sleep 30 &
pid=$!
child=
for _ in $(seq 100); do child=$(pgrep -P $pid -x sleep) && break; sleep 0.1; done
[ -n "$child" ] && pass || fail "the program under numa-trace run did not start"
kill -TERM $pid
wait $pid
RC=$?
expect_rc 143 -- "SIGTERM forwarded (128 + 15)"
[ -z "$child" ] || ! kill -0 "$child" 2>/dev/null && pass || fail "the program outlived the SIGTERM sent to numa-trace"

# A program using ggml's shared library: its tensor placements become resolves.
run "$NT" run -o "$T/ggml.nttrace" -- "$GGML_USER" "$T"/m-0000{1,2,3}-of-00006.gguf
expect_rc 0 -- "run the ggml user"
run "$NT" report --json "$T/ggml.nttrace"
python3 - "$T/out" <<'PY' && pass || fail "ggml resolves through the recorded mappings"
import json, sys
j = json.load(open(sys.argv[1]))
r = {x["file_idx"]: x["count"] for x in j["resolves"]}
assert r == {0: 2, 1: 2, 2: 2}, j["resolves"]
PY

# The Chrome trace: every event has name, ph, ts, pid, tid.
run "$NT" report "$T/hooked.nttrace" --chrome-trace "$T/chrome.json"
expect_rc 0 -- "report --chrome-trace"
python3 - "$T/chrome.json" "$tensors" <<'PY' && pass || fail "chrome trace keys"
import json, sys
d = json.load(open(sys.argv[1]))
ev = d["traceEvents"]
assert ev and all(all(k in e for k in ("name", "ph", "ts", "pid", "tid")) for e in ev)
assert sum(1 for e in ev if e["ph"] == "X" and e["cat"] == "resolve") == int(sys.argv[2])
assert any(e["cat"] == "create" for e in ev) and any(e["cat"] == "destroy" for e in ev)
PY
run "$NT" report "$T/hooked.nttrace" --chrome-trace "$T/chrome.json"
expect_rc 2 -- "--chrome-trace never overwrites"
finish
