#!/usr/bin/env bash
# The real llama.cpp (node-llama-cpp's prebuilt CPU build, unmodified) as a
# test subject of numa-trace run. One part per ctest:
#   unharmed  same tokens and exit status with and without numa-trace (run,
#             --hooks-only, --journal), for mmap, no mmap and mlock
#   trace     one per-file mapping per split; every tensor resolved once with
#             inspect's file idx, offset and size (jsonl, report --json,
#             --chrome-trace); a load without mmap says so
#   signals   signals sent to numa-trace reach the program once; the
#             terminal's ^C is not sent twice
#   crash     a SIGSEGV inside the real load decodes with postmortem
#   coexist   started through an exec, a closed stderr, a file-size limit
#   placement numa-trace placement PID on the client, started without numa-trace
# usage: llama.sh PART NUMA-TRACE CLIENT.mjs LLAMA-DIR [CRASH-SHIM.so]
PART=$1 NT=$2 CLIENT=$3 LLAMA_DIR=$4 SHIM=${5:-}
. "$(dirname "$0")/../cli/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

if [ ! -f "$LLAMA_DIR/.installed" ]; then
  echo "SKIP: the real llama.cpp is not installed in $LLAMA_DIR (tools/quickstart test installs it)"
  exit 77
fi
command -v node >/dev/null || { echo "SKIP: node is not installed (tools/quickstart test installs it)"; exit 77; }
export NUMA_TRACE_LLAMA_DIR=$LLAMA_DIR
cd "$T" || exit 1  # numa-trace PROGRAM writes numa-trace-PID.nttrace here

"$NT" gen-model "$T/m" --splits 3 --size 2M >/dev/null || { echo "gen-model failed"; exit 1; }
M=$T/m-00001-of-00003.gguf
client() { node "$CLIENT" "$M" "$@"; }

unharmed() {
  local mode want want_rc
  start_journald
  for mode in "" --no-mmap --mlock; do
    client $mode >"$T/want" 2>"$T/want.err"
    want_rc=$?
    want=$(cat "$T/want")
    [ "$want_rc" = 0 ] || fail "client ${mode:-(mmap)} without numa-trace: exit $want_rc: $(head -c 300 "$T/want.err")"
    grep -qE '^tokens: [0-9]+( [0-9]+){3}$' "$T/want" && pass || fail "client ${mode:-(mmap)} printed: $want"
    local variant i=0
    for variant in "run -o $T/t%p.nttrace --" "run --hooks-only --no-output --" "run --journal --no-output --" ""; do
      i=$((i + 1))
      # The last variant is the form users type: numa-trace PROGRAM ARGS...
      run "$NT" $variant node "$CLIENT" "$M" $mode
      expect_rc "$want_rc" -- "numa-trace ${variant:-PROGRAM} with ${mode:-mmap}"
      [ "$(cat "$T/out")" = "$want" ] && pass ||
        fail "numa-trace ${variant:-PROGRAM} with ${mode:-mmap}: stdout '$(cat "$T/out")', without numa-trace '$want'"
    done
  done
  stop_started_daemons
}

trace() {
  run "$NT" run -o "$T/m.nttrace" --jsonl "$T/m.jsonl" -- node "$CLIENT" "$M"
  expect_rc 0 -- "traced load"
  run "$NT" inspect "$M" --tensors --json
  cp "$T/out" "$T/inspect.json"
  run "$NT" report "$T/m.nttrace" --json --chrome-trace "$T/chrome.json"
  expect_rc 0 -- "report --json"
  cp "$T/out" "$T/report.json"
  run "$NT" report "$T/m.nttrace"
  cp "$T/out" "$T/report.txt"
  run python3 "$HERE/check_trace.py" "$T/inspect.json" "$T/m.jsonl" "$T/report.json" "$T/chrome.json" "$T/report.txt"
  expect_rc 0 -- "the trace matches inspect: $(cat "$T/out")"
  cat "$T/out"

  # Without mmap llama.cpp reads the splits into its own buffers: the reads
  # are recorded, each tensor read once at inspect's offset and size.
  run "$NT" run -o "$T/read.nttrace" --jsonl "$T/read.jsonl" -- node "$CLIENT" "$M" --no-mmap
  expect_rc 0 -- "traced load without mmap"
  run "$NT" report "$T/read.nttrace"
  expect_grep "$T/out" "^3 splits opened, none mapped" "the report of a load without mmap says so"
  expect_grep "$T/out" "^  file 2: $T/m-00003-of-00003.gguf" "and names the splits"
  expect_grep "$T/out" "^  file 1: [0-9]+ reads, [0-9.]+ [KM]iB  node0 100%" "and the reads per file, by destination node"
  python3 - "$T/inspect.json" "$T/read.jsonl" <<'PY' && pass || fail "reads without mmap do not cover every tensor"
import json, sys
model = json.load(open(sys.argv[1]))
reads = [json.loads(l) for l in open(sys.argv[2]) if '"type":"read"' in l]
got = [(r["file_idx"], r["offset"], r["length"]) for r in reads]
for t in model["tensors"]:
    want = (t["file_idx"], t["offset"], t["size"])
    if got.count(want) != 1:
        sys.exit(f"{t['name']} (file, offset, bytes) {want}: read {got.count(want)} times, want once")
PY

  # The interposer leaves the descriptors' offsets alone (a program that is
  # not ours reads the whole file through it).
  run "$NT" run --no-output -- cat "$M"
  [ "$(wc -c <"$T/out")" = "$(stat -c %s "$M")" ] && pass || fail "cat under numa-trace read $(wc -c <"$T/out") bytes"
}

signals() {
  local sig
  for sig in TERM HUP INT QUIT; do
    "$NT" run -o "$T/s$sig.nttrace" -- node "$CLIENT" "$M" --wait >"$T/sig.out" 2>"$T/sig.err" &
    local pid=$!
    for _ in $(seq 300); do grep -q '^ready' "$T/sig.out" && break; sleep 0.1; done
    kill -s "$sig" "$pid"
    wait "$pid"
    RC=$?
    cp "$T/sig.err" "$T/err"
    expect_rc 0 -- "SIG$sig sent to numa-trace: the program's exit status"
    [ "$(grep -c "^got SIG$sig" "$T/sig.out")" = 1 ] && pass ||
      fail "SIG$sig sent to numa-trace reached the program $(grep -c "^got SIG$sig" "$T/sig.out") times"
    run "$NT" report "$T/s$sig.nttrace" --json
    expect_grep "$T/out" '"complete": true' "the trace after SIG$sig is complete"
  done
  # ^C on a terminal: the kernel signals the whole foreground group, so the
  # program has it already and numa-trace must not send it again.
  run python3 "$HERE/tty_sigint.py" "$T/tty.out" "$NT" run --no-output -- node "$CLIENT" "$M" --wait
  expect_rc 0 -- "^C on a terminal: $(cat "$T/out")"
  # (the terminal echoes ^C in front of the program's line)
  [ "$(grep -c 'got SIGINT' "$T/tty.out")" = 1 ] && pass ||
    fail "^C on a terminal reached the program $(grep -c 'got SIGINT' "$T/tty.out") times: $(cat "$T/tty.out")"
}

crash() {
  [ -n "$SHIM" ] || { echo "no crash shim given"; exit 2; }
  file_cores
  local where want
  # alloc:N counts the allocs that place a tensor from a mapped split; on
  # CPUs where llama.cpp repacks weights, most tensors are copied out with
  # ggml_backend_tensor_set instead, so N stays small.
  for where in alloc:2 munmap:1; do
    mkdir -p "$T/$where" && cd "$T/$where" || exit 1
    # numa-trace passes LD_PRELOAD on to the program, after its own
    # libraries; an ASan build of numa-trace must be told to accept a
    # preload before its runtime (the shim does nothing in numa-trace).
    (ulimit -c unlimited && NT_CRASH_IN=$where LD_PRELOAD=$SHIM \
       ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
       exec "$NT" run --keep-dump -o "$T/$where/c.nttrace" -- node "$CLIENT" "$M") >"$T/out" 2>"$T/err"
    RC=$?
    expect_rc 139 -- "crash in $where"
    local core
    core=$(newest_core "$T/$where")
    [ -n "$core" ] || { fail "crash in $where: no core in $T/$where (core_pattern $(cat /proc/sys/kernel/core_pattern))"; continue; }
    run "$NT" postmortem "$core" --json
    cp "$T/out" "$T/$where.json"
    run "$NT" postmortem "$core"
    cp "$T/out" "$T/$where.txt"
    run python3 "$HERE/check_crash.py" "$where" "$T/$where.json" "$T/$where.txt" "$M"
    expect_rc 0 -- "postmortem of the crash in $where: $(cat "$T/out")"
    cd "$T" || exit 1
  done
  # The real loader's cores grouped by cause: a second crash in the
  # tensor allocation joins the first one's bucket, the crash after the
  # load (munmap) is another.
  mkdir -p "$T/again" && cd "$T/again" || exit 1
  (ulimit -c unlimited && NT_CRASH_IN=alloc:2 LD_PRELOAD=$SHIM \
     ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
     exec "$NT" run --keep-dump -o "$T/again/c.nttrace" -- node "$CLIENT" "$M") >/dev/null 2>&1
  cd "$T" || exit 1
  run "$NT" postmortem --json "$(newest_core "$T/alloc:2")" "$(newest_core "$T/munmap:1")" "$(newest_core "$T/again")"
  expect_rc 1 -- "postmortem of three cores of the real loader"
  python3 - "$T/out" <<'PY' && pass || fail "the real loader's cores: two buckets: $(head -c 800 "$T/out")"
import json, sys
pm = json.load(open(sys.argv[1]))
bucket = {c["core"].split("/")[-2]: c["bucket"] for c in pm["cores"]}
assert len(pm["cores"]) == 3 and len(pm["buckets"]) == 2, [(b["cause"], b["count"]) for b in pm["buckets"]]
assert bucket["alloc:2"] == bucket["again"] != bucket["munmap:1"], bucket
assert all(b["programs"] == ["node"] and "0x" not in b["cause"] for b in pm["buckets"]), pm["buckets"]
assert {b["signature"]["function"] for b in pm["buckets"]} == {"crash_in_alloc", "crash_in_munmap"}, pm["buckets"]
PY
}

# The hostile-environment cases of tests/hostile/coexist.sh, on the real
# loader: the same tokens and exit status as without numa-trace.
coexist() {
  client >"$T/want" 2>/dev/null || fail "client without numa-trace failed"
  local want
  want=$(cat "$T/want")
  # Started through a script that execs it, as servers often are: the
  # shell's image records nothing and writes no trace; node's image writes
  # the trace, complete, with the three per-file mappings.
  rm -f "$T"/x.nttrace*
  run "$NT" run -o "$T/x.nttrace" -- sh -c 'exec node "$0" "$1"' "$CLIENT" "$M"
  expect_rc 0 -- "exec through sh: exit status"
  [ "$(cat "$T/out")" = "$want" ] && pass || fail "exec through sh: stdout '$(cat "$T/out")', want '$want'"
  [ ! -e "$T/x.nttrace.1" ] && pass || fail "exec through sh: the shell's image wrote a trace too"
  "$NT" report --json "$T/x.nttrace" >"$T/x.json"
  python3 - "$T/x.json" <<'PY' && pass || fail "node's trace after exec: $(head -c 300 "$T/x.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["complete"], "incomplete"
assert sorted(m["slot"] for m in j["mappings"] if m["kind"] == "per-file") == [0, 1, 2], j["mappings"]
PY
  # A closed stderr, and a file-size limit below the trace's size: the
  # program is neither killed (SIGPIPE, SIGXFSZ) nor changed.
  run python3 "$HERE/../hostile/closed_stderr.py" "$NT" run -o "$T/closed.nttrace" --stderr -- node "$CLIENT" "$M"
  expect_rc 0 -- "closed stderr: exit status"
  [ "$(cat "$T/out")" = "$want" ] && pass || fail "closed stderr: stdout '$(cat "$T/out")'"
  run bash -c "ulimit -f 4; exec '$NT' run -o '$T/fsize.nttrace' -- node '$CLIENT' '$M'"
  expect_rc 0 -- "RLIMIT_FSIZE: exit status"
  [ "$(cat "$T/out")" = "$want" ] && pass || fail "RLIMIT_FSIZE: stdout '$(cat "$T/out")'"
  expect_grep "$T/err" "trace sink file:.*File too large" "RLIMIT_FSIZE: the sink's failure is said"
}

# numa-trace placement PID on the client, started without numa-trace and
# waiting after its tokens: every split named with its pages' nodes, and
# the tensor groups from the splits' tensor tables; with move_pages refused,
# every split from numa_maps.
placement() {
  node "$CLIENT" "$M" --wait >"$T/client.out" 2>"$T/client.err" &
  local pid=$!
  for _ in $(seq 300); do grep -q '^ready' "$T/client.out" && break; sleep 0.1; done
  grep -q '^ready' "$T/client.out" && pass || fail "the client did not get ready: $(tail -3 "$T/client.err")"
  run "$NT" placement "$pid" --json
  expect_rc 0 -- "placement of the real loader's client"
  cp "$T/out" "$T/placement.json"
  run deny_move_pages "$NT" placement "$pid" --json
  expect_rc 0 -- "placement of the real loader's client with move_pages refused"
  cp "$T/out" "$T/numa_maps.json"
  run "$NT" placement "$pid"
  kill -TERM "$pid"
  wait "$pid"
  python3 - "$T/numa_maps.json" "$T" <<'PY' && pass || fail "placement of the client from numa_maps: $(head -c 400 "$T/numa_maps.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["method"] == "numa_maps" and "refused (Operation not permitted)" in j["method_note"], j
paths = [f["path"] for f in j["files"]]
assert paths == [f"{sys.argv[2]}/m-0000{i}-of-00003.gguf" for i in (1, 2, 3)], paths
for f in j["files"]:
    # The pages the client's tokens read, as the kernel counts them per mapping.
    p = f["placement"]
    assert p["sampled_pages"] > 0 and sum(p["pages_per_node"]) == p["sampled_pages"], f
PY
  python3 - "$T/placement.json" "$T" <<'PY' && pass || fail "placement of the client: $(head -c 400 "$T/placement.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["method"] == "move_pages", j
paths = [f["path"] for f in j["files"]]
assert paths == [f"{sys.argv[2]}/m-0000{i}-of-00003.gguf" for i in (1, 2, 3)], paths
for f in j["files"]:
    assert f["file_idx"] == paths.index(f["path"]), f
    p = f["placement"]
    assert p["sampled_pages"] > 0 and sum(p["pages_per_node"]) + p["absent_pages"] == p["sampled_pages"], f
groups = set(g for f in j["files"] for g in f["groups"])
assert {"token_embd", "attention", "ffn", "output"} <= groups, groups
PY
  expect_grep "$T/out" "^  file 0, [0-9.]+ [KM]iB mapped:  node0 " "the text names file 0 with its nodes"
}

case $PART in
  unharmed | trace | signals | crash | coexist | placement) "$PART" ;;
  *) echo "usage: llama.sh unharmed|trace|signals|crash|coexist|placement NUMA-TRACE CLIENT LLAMA-DIR [SHIM]" >&2; exit 2 ;;
esac
finish
