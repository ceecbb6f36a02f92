#!/usr/bin/env bash
# docs/systemd.md, "Many hosts", step by step: a collector
# (systemd-journal-remote on 127.0.0.1) receives this host's entries from
# systemd-journal-upload and a second host's as an export stream (another
# _HOSTNAME and _MACHINE_ID); numa-trace's fields arrive intact;
# `numa-trace journal -D` triages them by host, code, model and program;
# the hosts' cores of a stripped loader are decoded with its DWARF from a
# debuginfod server (127.0.0.1) and bucketed by cause. Every server is
# started here on 127.0.0.1 and stopped on exit, also on failure.
NT=$1 LOADER=$2 LIB=$3
. "$(dirname "$0")/../cli/lib.sh"
REMOTE=/lib/systemd/systemd-journal-remote UPLOAD=/lib/systemd/systemd-journal-upload
for b in "$REMOTE" "$UPLOAD"; do
  [ -x "$b" ] || { echo "SKIP: $b not installed (tools/quickstart installs systemd-journal-remote)"; exit 77; }
done
command -v debuginfod >/dev/null || { echo "SKIP: debuginfod not installed (tools/quickstart installs it)"; exit 77; }
cleanup() {
  stop_started_daemons
  [ -n "${OLD_CORE_PATTERN:-}" ] && printf '%s' "$OLD_CORE_PATTERN" >"$CORE_PATTERN_FILE"
  cleanup_work
}
trap cleanup EXIT
start_journald
# wait_crash_entry PID: until PID's crash entry is in the journal (5 s at most).
wait_crash_entry() {
  for _ in $(seq 50); do
    journalctl --since "$JOURNAL_SINCE" _PID="$1" NUMA_TRACE_EVENT=crash -q -o cat --no-pager | grep -q . && return 0
    sleep 0.1
  done
  return 1
}
file_cores
trap cleanup EXIT  # file_cores sets its own; ours puts core_pattern back too
cd "$T" || exit 1
wait_port() {  # wait_port PORT PID: until something accepts on 127.0.0.1:PORT (or PID died)
  for _ in $(seq 100); do
    kill -0 "$2" 2>/dev/null || return 1
    python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
HOST=$(hostname)
mkdir -p "$T/a" "$T/b"
"$NT" gen-model "$T/a/m" --splits 4 --size 1M >/dev/null
"$NT" gen-model "$T/b/m" --splits 6 --size 1M >/dev/null

# 1. The collector.
PORT=$(free_port)
mkdir -p "$T/collector"
"$REMOTE" --listen-http="127.0.0.1:$PORT" --output="$T/collector/" --split-mode=host >"$T/remote.log" 2>&1 &
STARTED_PIDS+=($!)
wait_port "$PORT" "${STARTED_PIDS[-1]}" || { fail "systemd-journal-remote did not listen: $(cat "$T/remote.log")"; exit 1; }
# It listens on 127.0.0.1 only.
ss -Hltn "sport = :$PORT" | awk '{print $4}' >"$T/listen"
[ "$(cat "$T/listen")" = "127.0.0.1:$PORT" ] && pass || fail "journal-remote listens on $(cat "$T/listen")"

# 2. Host "fleet-b": a per-file load ending in the partial-unmap fault
# (NT005) of model b, its entries exported with another host's name and
# machine id.
(ulimit -c 0; exec env LD_PRELOAD="$LIB" NUMA_TRACE=journal "$LOADER" "$T/b/m" --strategy unified --fault partial-unmap --threads 2) >/dev/null 2>&1 &
pid_b=$!
wait $pid_b
wait_crash_entry "$pid_b"
journalctl --since "$JOURNAL_SINCE" _PID=$pid_b NUMA_TRACE=1 -o export --no-pager >"$T/b.local.export"
cursor_b=$(journalctl -n 1 --show-cursor -q --no-pager | sed -n 's/^-- cursor: //p')
python3 - "$T/b.local.export" "$T/b.export" <<'PY'
# The journal export format: "NAME=value\n" text fields, or NAME\n, a
# 64-bit little-endian length, the bytes and \n for binary ones; entries
# end with an empty line. Only the host's identity changes.
import struct, sys
src, out = open(sys.argv[1], "rb").read(), open(sys.argv[2], "wb")
i = 0
while i < len(src):
    nl = src.index(b"\n", i)
    line = src[i:nl]
    if b"=" in line or not line:
        if line.startswith(b"_HOSTNAME="): line = b"_HOSTNAME=fleet-b"
        elif line.startswith(b"_MACHINE_ID="): line = b"_MACHINE_ID=0123456789abcdef0123456789abcdef"
        if not line.startswith(b"__CURSOR="): out.write(line + b"\n")
        i = nl + 1
    else:
        n = struct.unpack("<Q", src[nl + 1:nl + 9])[0]
        out.write(src[i:nl + 9 + n + 1])
        i = nl + 9 + n + 1
PY
grep -q '^NUMA_TRACE_CODE=NT005' "$T/b.export" && pass || fail "host b's export holds no NT005 entry"

# 3. This host: a clean per-file load, and the null-slot crash (NT001) of model a.
run env LD_PRELOAD="$LIB" NUMA_TRACE=journal "$LOADER" "$T/a/m" --verify
expect_rc 0 -- "host a: traced clean load"
(ulimit -c 0; exec env LD_PRELOAD="$LIB" NUMA_TRACE=journal "$LOADER" "$T/a/m" --strategy unified --fault null-slot --threads 1) >/dev/null 2>&1 &
pid_a=$!
wait $pid_a
wait_crash_entry "$pid_a"

# 4. Both hosts upload: this one its journal from its first entry after host
# b's, host b its export stream.
# (systemd 252's journal-upload --after-cursor sends the cursor's own entry
# too: --cursor names the first entry to send, found by journalctl.)
first_a=$(journalctl --after-cursor="$cursor_b" -o json --no-pager | head -1 | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["__CURSOR"])')
run timeout 60 "$UPLOAD" --url="http://127.0.0.1:$PORT" --cursor="$first_a" --follow=no
expect_rc 0 -- "systemd-journal-upload of this host's journal"
run timeout 60 "$UPLOAD" --url="http://127.0.0.1:$PORT" - <"$T/b.export"
expect_rc 0 -- "systemd-journal-upload of host b's export stream"

# 5. The fields arrive intact: every numa-trace field of every entry, for
# both hosts, as the hosts' journals hold them.
journalctl --since "$JOURNAL_SINCE" _PID=$pid_a NUMA_TRACE=1 -o json --no-pager >"$T/a.local.json"
run "$NT" journal -D "$T/collector" --json
expect_rc 1 -- "numa-trace journal -D (findings among the entries)"
python3 - "$T/out" "$T/a.local.json" "$T/b.local.export" "$pid_a" "$pid_b" "$HOST" <<'PY' && pass || fail "fields intact at the collector"
import json, sys
got = json.load(open(sys.argv[1]))
want_a = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
want_b, e = [], {}
for line in open(sys.argv[3], "rb").read().split(b"\n"):
    if not line:
        if e: want_b.append(e)
        e = {}
    elif b"=" in line:
        k, v = line.split(b"=", 1)
        e[k.decode()] = v.decode()
pid_a, pid_b, host = sys.argv[4:7]
keep = lambda e: {k: v for k, v in e.items() if k.startswith("NUMA_TRACE") or k in ("MESSAGE", "MESSAGE_ID", "PRIORITY")}
for pid, hostname, want in ((pid_a, host, want_a), (pid_b, "fleet-b", want_b)):
    have = [keep(e) for e in got if e.get("_PID") == pid and e.get("_HOSTNAME") == hostname]
    want = [keep(e) for e in want]
    assert want and have == want, (hostname, len(have), len(want), [x for x in want if x not in have][:2])
assert all(e["_MACHINE_ID"] == "0123456789abcdef0123456789abcdef" for e in got if e.get("_HOSTNAME") == "fleet-b")
assert any("NUMA_TRACE_MODEL" in e and e["NUMA_TRACE_MODEL"].endswith("/b/m-00001-of-00006.gguf") for e in got)
PY

# 6. Triage at the collector.
run "$NT" journal -D "$T/collector" --by host
expect_rc 1 -- "--by host"
expect_grep "$T/out" "^$HOST +[0-9]+ +[1-9][0-9]* .* NT001 +numa-trace: " "--by host: this host hit NT001"
expect_grep "$T/out" "^fleet-b +[0-9]+ +[1-9][0-9]* .* NT005 +numa-trace: " "--by host: host b hit NT005"
run "$NT" journal -D "$T/collector" --by host --json
python3 - "$T/out" "$HOST" <<'PY' && pass || fail "--by host --json: $(head -c 600 "$T/out")"
import json, sys
g = {x["host"]: x for x in json.load(open(sys.argv[1]))}
assert set(g) == {sys.argv[2], "fleet-b"}, g.keys()
assert g[sys.argv[2]]["codes"] == ["NT001"] and g["fleet-b"]["codes"] == ["NT005"], g
assert all(x["first_usec"] <= x["last_usec"] and x["entries"] > x["findings"] > 0 and x["example"] for x in g.values())
PY
run "$NT" journal -D "$T/collector" --by code
expect_grep "$T/out" "^NT001 +[0-9]+ +[0-9]+ .* $HOST +numa-trace: NT001" "--by code: NT001 on this host"
expect_grep "$T/out" "^NT005 +[0-9]+ +[0-9]+ .* fleet-b +numa-trace: NT005" "--by code: NT005 on host b"
run "$NT" journal -D "$T/collector" --by model --json
python3 - "$T/out" "$T" <<'PY' && pass || fail "--by model: $(head -c 600 "$T/out")"
import json, sys
g = {x["model"]: x for x in json.load(open(sys.argv[1]))}
a, b = sys.argv[2] + "/a/m-00001-of-00004.gguf", sys.argv[2] + "/b/m-00001-of-00006.gguf"
assert g[a]["codes"] == ["NT001"] and g[b]["codes"] == ["NT005"] and g[b]["hosts"] == ["fleet-b"], g
PY
run "$NT" journal -D "$T/collector" --by program
expect_grep "$T/out" "^numa-trace-load " "--by program: the loader (its _COMM)"
# --file reads the collector's files as -D does.
files=("$T"/collector/*.journal)
run "$NT" journal "${files[@]/#/--file=}" --host fleet-b --code NT005 --json
expect_rc 1 -- "--file ... --host fleet-b --code NT005"
python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); assert len(e)==1 and e[0]["_HOSTNAME"]=="fleet-b"' "$T/out" && pass ||
  fail "--file: one NT005 entry of host b: $(head -c 400 "$T/out")"
run "$NT" journal -D "$T/nowhere" --by host
expect_rc 2 -- "-D of a missing folder"
expect_grep "$T/err" "$T/nowhere: JR001: cannot open" "the missing folder is named"
run "$NT" journal -D "$T/collector" --by colour
expect_rc 2 -- "--by colour"

# 7. The hosts' cores: a stripped build whose DWARF is on a debuginfod
# server; cores of two faults, decoded and bucketed.
mkdir -p "$T/served" "$T/cores"
cp "$LOADER" "$T/served/numa-trace-loader"
cp "$LOADER" "$T/numa-trace-loader" && strip --strip-debug "$T/numa-trace-loader"
i=0
for fault in null-slot null-slot worker-crash null-slot worker-crash; do
  i=$((i + 1))
  mkdir -p "$T/cores/$i" && cd "$T/cores/$i" || exit 1
  (ulimit -c unlimited; exec "$T/numa-trace-loader" "$T/a/m" --strategy unified --fault $fault --threads $(( (i % 3) + 1 ))) >/dev/null 2>&1
  cd "$T" || exit 1
done
[ "$(find "$T/cores" -type f -name 'core*' | wc -l)" = 5 ] && pass || fail "5 cores: $(find "$T/cores" -type f)"
start_debuginfod "$T/served" "$T/numa-trace-loader" && pass || fail "debuginfod did not serve the loader: $(tail -5 "$T/debuginfod.log")"
run env DEBUGINFOD_URLS="http://127.0.0.1:$DEBUGINFOD_PORT" DEBUGINFOD_CACHE_PATH="$T/client-cache" "$NT" postmortem "$T/cores"
expect_rc 1 -- "postmortem of the hosts' cores"
expect_grep "$T/out" "^5 cores, 2 causes$" "two causes in five cores"
expect_grep "$T/out" "^ +3 +[0-9a-f]{8} .* NT001 \(resolve through an empty slot\), SIGSEGV in .*slot k = file idx, related slot 0" \
  "the null-slot cores, judged from the DWARF debuginfod served"
expect_grep "$T/out" "^ +2 +[0-9a-f]{8} .* no finding, SIGSEGV \(null page\) in .*load_all_data" "the worker crashes"
expect_grep "$T/err" "decoding 5/5" "progress on stderr"
finish
