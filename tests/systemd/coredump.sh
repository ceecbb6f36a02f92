#!/usr/bin/env bash
# systemd-coredump catches the reference loader's null-slot crash (journald
# running, systemd-socket-activate standing in for the socket unit, the
# kernel's core_pattern set to its pipe for this test), and
# `numa-trace postmortem --coredump` finds and decodes it: the same verdict
# as on the plain core. core_pattern, fs.suid_dumpable and
# kernel.core_pipe_limit are put back on exit, also on failure.
NT=$1 LOADER=$2 LIB=$3
. "$(dirname "$0")/../cli/lib.sh"
[ -x /lib/systemd/systemd-coredump ] || { echo "SKIP: systemd-coredump not installed (tools/quickstart installs it)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to set core_pattern"; exit 77; }
command -v systemd-socket-activate >/dev/null || { echo "SKIP: systemd-socket-activate not installed"; exit 77; }
OLD_PATTERN=$(cat /proc/sys/kernel/core_pattern)
OLD_SUID=$(cat /proc/sys/fs/suid_dumpable)
OLD_PIPE=$(cat /proc/sys/kernel/core_pipe_limit)
cleanup() {
  printf '%s' "$OLD_PATTERN" >/proc/sys/kernel/core_pattern
  echo "$OLD_SUID" >/proc/sys/fs/suid_dumpable
  echo "$OLD_PIPE" >/proc/sys/kernel/core_pipe_limit
  stop_started_daemons
  cleanup_work
}
trap cleanup EXIT
start_journald
# systemd-coredump's entries for a crashed PID (its crash MESSAGE_ID), from
# this run on; when the one that names the stored core has arrived; that core.
coredump_entries() { journalctl --since "$JOURNAL_SINCE" MESSAGE_ID=fc2e22bc6ee647b6b90729ab34a250b1 COREDUMP_PID="$1" -o json --no-pager; }
wait_coredump() {
  for _ in $(seq 100); do coredump_entries "$1" 2>/dev/null | grep -q COREDUMP_FILENAME && return 0; sleep 0.2; done
  return 1
}
stored_core() { coredump_entries "$1" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["COREDUMP_FILENAME"])'; }
cd "$T" || exit 1
mkdir -p /run/systemd
rm -f /run/systemd/coredump
systemd-socket-activate --seqpacket -a -l /run/systemd/coredump /lib/systemd/systemd-coredump >"$T/activate.log" 2>&1 &
STARTED_PIDS+=($!)
for _ in $(seq 50); do [ -S /run/systemd/coredump ] && break; sleep 0.1; done
pattern=$(sed -n 's/^kernel.core_pattern *= *//p' /usr/lib/sysctl.d/50-coredump.conf)
[ -n "$pattern" ] || pattern='|/lib/systemd/systemd-coredump %P %u %g %s %t 9223372036854775808 %h %d'
printf '%s' "$pattern" >/proc/sys/kernel/core_pattern
echo 16 >/proc/sys/kernel/core_pipe_limit

"$NT" gen-model "$T/m" --splits 6 --size 4M >/dev/null
(ulimit -c unlimited; exec env LD_PRELOAD="$LIB" "$LOADER" "$T/m" --strategy unified --fault null-slot --threads 1) >/dev/null 2>&1 &
pid=$!
wait $pid
RC=$?
expect_rc 139 -- "the loader dies of SIGSEGV"
wait_coredump "$pid"
run "$NT" postmortem --coredump "$pid" --journal
expect_rc 1 -- "postmortem --coredump $pid"
expect_grep "$T/out" "^systemd-coredump: PID $pid " "the entry is found"
grep -E "^SIGSEGV" "$T/out" >"$T/coredump.verdict"
core=$(stored_core "$pid")
zstd -q -d "$core" -o "$T/plain.core"
run "$NT" postmortem --exe "$LOADER" "$T/plain.core"
grep -E "^SIGSEGV" "$T/out" >"$T/plain.verdict"
expect_grep "$T/plain.verdict" "Mapping slot 1 is empty" "verdict on the plain core"
if diff -u "$T/plain.verdict" "$T/coredump.verdict"; then pass; else fail "--coredump verdict differs from the plain core's"; fi
run "$NT" postmortem --coredump numa-trace-loader
expect_rc 1 -- "postmortem --coredump by command name"
run journalctl --since "$JOURNAL_SINCE" MESSAGE_ID=c11a7ac6be8c482094d5d55aa55de52e COREDUMP_PID=$pid -o json --no-pager
expect_grep "$T/out" '"NUMA_TRACE_CODE":"NT001"' "--journal wrote the verdict back, naming the crash"
run "$NT" postmortem --coredump 999999999
expect_rc 2 -- "no such coredump"
expect_grep "$T/err" "PM009" "no such coredump is said"
rm -f "$core"

# --coredump MATCH --all: every core of a program, grouped by cause, with
# the host each came from. A copy of the loader of this test's own, so
# that older entries of other runs do not match.
cp "$LOADER" "$T/loader-all"
pids=()
for threads in 1 3; do
  (ulimit -c unlimited; exec env LD_PRELOAD="$LIB" "$T/loader-all" "$T/m" --strategy unified --fault null-slot --threads $threads) >/dev/null 2>&1 &
  pids+=($!)
  wait $!
done
for p in "${pids[@]}"; do wait_coredump "$p"; done
run "$NT" postmortem --coredump "$T/loader-all" --all --json
expect_rc 1 -- "postmortem --coredump EXE --all"
python3 - "$T/out" "$(hostname)" "${pids[@]}" <<'PY' && pass || fail "--all: two cores, one bucket: $(head -c 600 "$T/out")"
import json, sys
pm = json.load(open(sys.argv[1]))
host, pids = sys.argv[2], sys.argv[3:]
assert sorted(c["coredump_pid"] for c in pm["cores"]) == sorted(pids), pm["cores"]
assert all(c["host"] == host and c["exit"] == 1 and c["program"] == "loader-all" for c in pm["cores"]), pm["cores"]
assert len(pm["buckets"]) == 1 and pm["buckets"][0]["count"] == 2 and pm["buckets"][0]["hosts"] == [host]
assert pm["buckets"][0]["signature"]["code"] == "NT001"
PY
run "$NT" postmortem --coredump "$T/loader-all" --all
expect_grep "$T/out" "^2 cores, 1 cause$" "--all, text"
for p in "${pids[@]}"; do stored_core "$p" | xargs -r rm -f; done
finish
