#!/usr/bin/env bash
# numa-trace report on good, cut and corrupt traces; numa-trace demo end to end.
NT=$1 LOADER=$2 LIB=$3
. "$(dirname "$0")/lib.sh"

"$NT" gen-model "$T/m" --splits 3 --size 4M >/dev/null
run env LD_PRELOAD="$LIB" NUMA_TRACE="file:$T/ok.nttrace" "$LOADER" "$T/m" --strategy unified --verify
expect_rc 0 -- "traced load"
run "$NT" report "$T/ok.nttrace"; expect_rc 0 -- "report of a clean trace"
expect_grep "$T/out" "^ +0  unified .* destroyed +node0 100%" "mapping row with placement"
expect_grep "$T/out" "^ +2 +0 +- +\+0x[0-9a-f]+  node0 100%" "file 2's placement"
expect_grep "$T/out" "^findings: none" "no findings"
run "$NT" report --json "$T/ok.nttrace"; expect_rc 0 -- "report --json"
if command -v python3 >/dev/null; then
  python3 - "$T/out" <<'PY' && pass || fail "report --json content"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["complete"] and j["files"] == 3, j
m = j["mappings"][0]
assert m["kind"] == "unified" and len(m["extents"]) == 3
assert m["placement"]["sampled_pages"] > 0
assert sum(r["count"] for r in j["resolves"]) > 0 and j["findings"] == []
PY
fi

# A trace cut anywhere is still read up to its last whole record.
size=$(stat -c %s "$T/ok.nttrace")
head -c $((size / 2)) "$T/ok.nttrace" >"$T/cut.nttrace"
run "$NT" report "$T/cut.nttrace"; expect_rc 0 -- "report of a cut trace"
expect_grep "$T/out" "cut short" "cut trace is said to be cut"
# Cut short, it has no summary to give the time scale: with the default
# coarse clock its times are nanoseconds all the same (header.clock), with
# clock=tsc they are an estimate, and said to be.
if grep -q "assume a 2.5 GHz counter" "$T/out"; then fail "a cut coarse-clock trace's times called estimates"; else pass; fi
run env LD_PRELOAD="$LIB" NUMA_TRACE="file:$T/tsc.nttrace,clock=tsc" "$LOADER" "$T/m" --strategy unified
expect_rc 0 -- "traced load with clock=tsc"
size=$(stat -c %s "$T/tsc.nttrace")
head -c $((size / 2)) "$T/tsc.nttrace" >"$T/tsc-cut.nttrace"
run "$NT" report "$T/tsc-cut.nttrace"; expect_rc 0 -- "report of a cut clock=tsc trace"
expect_grep "$T/out" "assume a 2.5 GHz counter" "a cut clock=tsc trace's times are said to be estimates"
head -c 100 "$T/ok.nttrace" >"$T/tiny.nttrace"
run "$NT" report "$T/tiny.nttrace"; expect_rc 0 -- "report of a trace cut after the header"
printf 'garbage that is long enough to be a header but is not a numa-trace binary trace file......' >"$T/bad.nttrace"
run "$NT" report "$T/bad.nttrace"; expect_rc 2 -- "report of a non-trace"
expect_grep "$T/err" "bad.nttrace: TR002" "non-trace named"
run "$NT" report "$T/missing.nttrace"; expect_rc 2 -- "report of a missing file"
expect_grep "$T/err" "missing.nttrace: TR001" "missing trace named"
# Version from the future.
cp "$T/ok.nttrace" "$T/v9.nttrace"
printf '\x09' | dd of="$T/v9.nttrace" bs=1 seek=8 conv=notrunc 2>/dev/null
run "$NT" report "$T/v9.nttrace"; expect_rc 2 -- "report of an unknown version"
expect_grep "$T/err" "TR003 header.version: version 9 is not known" "unknown version explained"

# The demo, end to end.
run "$NT" demo
expect_rc 0 -- "numa-trace demo"
expect_grep "$T/out" "NT001 resolve of .* through slot 1, which is empty" "demo shows NT001"
expect_grep "$T/out" "died of SIGSEGV" "demo shows the crash"
expect_grep "$T/out" "every byte verified" "demo shows the verified load"
expect_grep "$T/out" "^Everything behaved as expected" "demo concludes"
finish
