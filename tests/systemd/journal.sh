#!/usr/bin/env bash
# The journal sink with a real systemd-journald: entries and their fields
# (journalctl -o json, and numa-trace journal through sd-journal), and the
# message catalog (journalctl -x).
NT=$1 LOADER=$2 LIB=$3 CATALOG=$4
. "$(dirname "$0")/../cli/lib.sh"
CATALOG_INSTALLED=/usr/lib/systemd/catalog/numa-trace-test.catalog
cleanup() {
  stop_started_daemons
  if [ -e "$CATALOG_INSTALLED" ]; then rm -f "$CATALOG_INSTALLED"; journalctl --update-catalog 2>/dev/null; fi
  cleanup_work
}
trap cleanup EXIT
start_journald
cd "$T" || exit 1
"$NT" gen-model "$T/m" --splits 6 --size 4M >/dev/null
since="@$(date +%s)"
sleep 1

# A clean per-file load: a create and a destroy per split, resolves summed per file.
run env LD_PRELOAD="$LIB" NUMA_TRACE=journal "$LOADER" "$T/m" --verify
expect_rc 0 -- "traced load with the journal sink"
# journald reads its sockets on its own time: --sync returns once what was
# sent before it is in the journal files.
journalctl --sync
pid_ok=$(journalctl --since "$since" NUMA_TRACE_EVENT=model_begin -o json --no-pager | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["_PID"])')
# Process ids are reused, and the journal keeps older runs: every query by
# pid is bounded by this run's start.
run journalctl --since "$since" _PID="$pid_ok" NUMA_TRACE=1 -o json --no-pager
python3 - "$T/out" <<'PY' && pass || fail "create/destroy/resolve_summary entries with their fields"
import json, sys
entries = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ev = lambda t: [e for e in entries if e.get("NUMA_TRACE_EVENT") == t]
assert sorted(int(e["NUMA_TRACE_SLOT"]) for e in ev("create")) == list(range(6)), ev("create")
assert all(e["NUMA_TRACE_KIND"] == "per-file" and e["MESSAGE_ID"] and e["PRIORITY"] == "6" for e in ev("create"))
assert len(ev("destroy")) == 6
s = ev("resolve_summary")
assert sorted(int(e["NUMA_TRACE_FILE_IDX"]) for e in s) == list(range(6)) and all(int(e["NUMA_TRACE_RESOLVES"]) > 0 for e in s)
assert not ev("resolve"), "resolves are aggregated by default"
PY

# The null-slot crash: NT001 with slot, file idx and tensor.
(ulimit -c 0; exec env LD_PRELOAD="$LIB" NUMA_TRACE=journal "$LOADER" "$T/m" --strategy unified --fault null-slot --threads 1) >/dev/null 2>&1
journalctl --sync
run journalctl --since "$since" NUMA_TRACE_CODE=NT001 -o json --no-pager
expect_rc 0 -- "journalctl NUMA_TRACE_CODE=NT001"
tensor=$(python3 -c 'import json,sys; e=[json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]; assert e["NUMA_TRACE_SLOT"]=="1" and e["NUMA_TRACE_FILE_IDX"]=="1" and e["PRIORITY"]=="3"; print(e["NUMA_TRACE_TENSOR"])' "$T/out")
[ -n "$tensor" ] && pass || fail "NT001 entry with slot 1, file idx 1 and a tensor"
run journalctl --since "$since" NUMA_TRACE_EVENT=crash -o json --no-pager
expect_grep "$T/out" '"NUMA_TRACE_SIGNAL":"11"' "crash entry"
run "$NT" journal --since "$(date -d "$since" +'%F %T' 2>/dev/null || date +'%F')" --code NT001 --json
expect_rc 1 -- "numa-trace journal --code NT001"
expect_grep "$T/out" "\"NUMA_TRACE_TENSOR\": \"$tensor\"" "numa-trace journal reads it back through sd-journal"

# The catalog: journalctl -x explains the finding.
cp "$CATALOG" "$CATALOG_INSTALLED" && journalctl --update-catalog
run journalctl --since "$since" -x NUMA_TRACE_CODE=NT001 --no-pager
expect_grep "$T/out" "Subject: NT001: resolve through an empty slot" "journalctl -x shows the catalog subject"
expect_grep "$T/out" "Fix: resolve through the slot that holds the file" "journalctl -x shows the fix"
run journalctl --list-catalog
expect_grep "$T/out" "NT015: threads read memory of another node \(remote reads\)" "the catalog explains NT015 (advice)"
finish
