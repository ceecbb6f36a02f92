#!/usr/bin/env bash
# numa-trace placement PID on running processes that were not started under
# numa-trace: a program that only maps the splits (python3's mmap), and the
# reference loader holding a unified region with libnumatrace loaded (the
# region comes from its flight recorder); the first again with move_pages
# refused by a seccomp filter (numa_maps instead). The real loader's client is in
# tests/llama (part placement), node 1 in tests/vm.
# usage: placement.sh NUMA-TRACE LOADER LIBNUMATRACE
NT=$1 LOADER=$2 LIB=$3
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }
"$NT" gen-model "$T/m" --splits 3 --size 3M >/dev/null 2>&1 || { echo "gen-model failed"; exit 1; }
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; cleanup_work' EXIT
# wait_ready FILE: until the program printed "ready" (10 s at most).
wait_ready() { for _ in $(seq 100); do grep -q '^ready' "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# A program that maps the splits and touches their pages, then waits.
python3 -c '
import mmap, sys, time
maps = []
for p in sys.argv[1:]:
    with open(p, "rb") as f:
        m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    for off in range(0, len(m), 4096):
        m[off]
    maps.append(m)
print("ready", flush=True)
time.sleep(300)' "$T"/m-0000[123]-of-00003.gguf >"$T/holder.out" 2>&1 &
PIDS+=($!)
wait_ready "$T/holder.out" && pass || fail "the mapping program did not start: $(cat "$T/holder.out")"
run "$NT" placement "${PIDS[0]}"
expect_rc 0 -- "placement of a process that mapped the splits"
for i in 1 2 3; do
  expect_grep "$T/out" "^$T/m-0000$i-of-00003.gguf\$" "split $i named"
  expect_grep "$T/out" "^  file $((i - 1)), [0-9.]+ KiB mapped:  node0 +[0-9]+%" "split $i's placement"
done
expect_grep "$T/out" "^  token_embd +1 tensors" "the token_embd group"
expect_grep "$T/out" "^  attention +[0-9]+ tensors" "the attention group"
run "$NT" placement "${PIDS[0]}" --tensors --json
expect_rc 0 -- "placement --tensors --json"
python3 - "$T/out" "$T" <<'PY' && pass || fail "placement --json: $(head -c 400 "$T/out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["method"] == "move_pages", j["method"]
paths = [f["path"] for f in j["files"]]
assert paths == [f"{sys.argv[2]}/m-0000{i}-of-00003.gguf" for i in (1, 2, 3)], paths
for f in j["files"]:
    p = f["placement"]
    assert p["sampled_pages"] > 0 and p["absent_pages"] == 0, f  # the holder touched every page
    assert sum(p["pages_per_node"]) == p["sampled_pages"], f
    assert f["tensors"] and all(t["placement"]["sampled_pages"] > 0 for t in f["tensors"]), f["path"]
PY

# Where move_pages(2) is refused (deny_move_pages, in lib.sh), the counts
# come from numa_maps, per file only, and the output says so.
run deny_move_pages "$NT" placement "${PIDS[0]}"
expect_rc 0 -- "placement with move_pages refused"
expect_grep "$T/out" "^process ${PIDS[0]} \(python3\): 3 GGUF splits mapped; [0-9]+ pages counted from numa_maps in [0-9.]+ ms$" "the pages are said to be counted from numa_maps"
expect_grep "$T/out" "^  move_pages on the process was refused \(Operation not permitted\): per-file placement from /proc/${PIDS[0]}/numa_maps, none per tensor$" "the numa_maps fallback is said"
for i in 1 2 3; do
  expect_grep "$T/out" "^  file $((i - 1)), [0-9.]+ KiB mapped:  node0 +[0-9]+%" "split $i's placement from numa_maps"
done
run deny_move_pages "$NT" placement "${PIDS[0]}" --tensors --json
expect_rc 0 -- "placement --json with move_pages refused"
python3 - "$T/out" <<'PY' && pass || fail "placement --json from numa_maps: $(head -c 400 "$T/out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["method"] == "numa_maps" and "refused" in j["method_note"], j["method"]
for f in j["files"]:
    p = f["placement"]
    # numa_maps counts the pages the holder touched, every page of the file.
    assert p["sampled_pages"] * 4096 >= f["mapped_bytes"] > 0, f
    assert all(t["placement"]["sampled_pages"] == 0 for t in f.get("tensors", [])), f["path"]
PY
# --watch: plain lines when not a terminal, until the process ends.
timeout 20 "$NT" placement "${PIDS[0]}" --watch 0.2 >"$T/watch" 2>&1 &
watcher=$!
for _ in $(seq 100); do [ "$(grep -c '^--- ' "$T/watch")" -ge 2 ] && break; sleep 0.1; done
kill "${PIDS[0]}"
wait "$watcher"
rc=$?
[ "$rc" = 0 ] && pass || fail "--watch exited $rc when the process ended"
[ "$(grep -c '^--- ' "$T/watch")" -ge 2 ] && pass || fail "--watch: fewer than two passes: $(head -5 "$T/watch")"
expect_grep "$T/watch" "^process ${PIDS[0]} is gone" "--watch says the process ended"

# The reference loader with libnumatrace: its unified region, from the recorder.
env LD_PRELOAD="$LIB" NUMA_TRACE= "$LOADER" "$T/m" --strategy unified --hold >"$T/loader.out" 2>&1 &
PIDS+=($!)
wait_ready "$T/loader.out" && pass || fail "the loader did not hold: $(cat "$T/loader.out")"
run "$NT" placement "${PIDS[1]}"
expect_rc 0 -- "placement of the holding loader"
expect_grep "$T/out" "^unified region in slot 0 \(flight recorder\), [0-9.]+ MiB at 0x[0-9a-f]+:  node0 +[0-9]+%" "the unified region"
for i in 0 1 2; do
  expect_grep "$T/out" "^  file $i $T/m-0000$((i + 1))-of-00003.gguf:  node0" "file $i in the region, with its path"
done
kill "${PIDS[1]}"

# Errors: no such process; not a pid; a --watch period that is not above 0.
run "$NT" placement 999999999;  expect_rc 2 -- "no such process"
expect_grep "$T/err" "process 999999999: No such file or directory" "the process is named"
run "$NT" placement abc;        expect_rc 2 -- "not a pid"
expect_grep "$T/err" "^pid: abc is not a process id \(a whole number above 0\)$" "a pid that is not a number is named"
run "$NT" placement 0;          expect_rc 2 -- "pid 0"
expect_grep "$T/err" "^pid: 0 is not a process id" "pid 0 is refused"
run "$NT" placement 1 --watch 0; expect_rc 2 -- "--watch 0"
expect_grep "$T/err" "^--watch: 0 is not a number of seconds above 0$" "--watch 0 is refused, saying what is wanted"
finish
