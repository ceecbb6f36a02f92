#!/usr/bin/env bash
# Crash buckets: 30 kernel-written cores of three different faults of the
# reference loader (null-slot, partial-unmap, worker-crash), made with
# different models, thread counts and layouts, half of them without the
# flight recorder, decoded by `numa-trace postmortem DIR` into exactly
# three buckets, each holding the cores of one fault. Also: several paths,
# --json, progress, and cores that cannot be decoded among good ones.
NT=$1 LOADER=$2 LIB=$3
. "$(dirname "$0")/../cli/lib.sh"
file_cores
cd "$T" || exit 1
"$NT" gen-model "$T/m4" --splits 4 --size 512K >/dev/null
"$NT" gen-model "$T/m6" --splits 6 --size 512K >/dev/null
: >"$T/made"
n=0
for fault in null-slot partial-unmap worker-crash; do
  for i in $(seq 10); do
    n=$((n + 1))
    dir="$T/cores/$fault-$i"
    mkdir -p "$dir" && cd "$dir" || exit 1
    model="$T/m4"; [ $((i % 2)) = 0 ] && model="$T/m6"
    extra=(); [ $((i % 3)) = 0 ] && extra=(--page-aligned)
    # partial-unmap is known only to the recorder (the loader's DWARF
    # state cannot show a partly unmapped region): always recorded.
    preload=; { [ "$fault" = partial-unmap ] || [ $((i % 2)) = 1 ]; } && preload=$LIB
    (ulimit -c unlimited; exec env ${preload:+LD_PRELOAD=$preload} "$LOADER" "$model" --strategy unified \
       --fault "$fault" --threads $(( (i % 4) + 1 )) "${extra[@]}") >/dev/null 2>&1
    core=$(newest_core "$dir")
    [ -n "$core" ] && echo "$core $fault" >>"$T/made" || fail "$fault #$i: no core (exit $?)"
  done
done
cd "$T" || exit 1
[ "$(wc -l <"$T/made")" = 30 ] && pass || fail "30 cores made, got $(wc -l <"$T/made")"

run "$NT" postmortem --json "$T/cores"
expect_rc 1 -- "postmortem of a folder of 30 cores"
python3 - "$T/out" "$T/made" <<'PY' && pass || fail "three buckets, one per fault"
import json, sys
pm = json.load(open(sys.argv[1]))
fault_of = dict(line.split() for line in open(sys.argv[2]))
assert len(pm["cores"]) == 30, len(pm["cores"])
assert len(pm["buckets"]) == 3, [(b["cause"], b["count"]) for b in pm["buckets"]]
for b in pm["buckets"]:
    faults = {fault_of[c] for c in b["cores"]}
    assert len(faults) == 1 and b["count"] == 10, (b["cause"], faults, b["count"])
    assert b["programs"] == ["numa-trace-loader"] and b["first_usec"] <= b["last_usec"], b
    assert b["example"] in b["cores"] and "0x" not in b["cause"], b
for c in pm["cores"]:
    assert c["exit"] == 1 and c["verdict"] and c["bucket"] in {b["id"] for b in pm["buckets"]}, c
cause = {fault_of[b["cores"][0]]: b for b in pm["buckets"]}
assert cause["null-slot"]["signature"]["code"] == "NT001", cause["null-slot"]
assert cause["null-slot"]["signature"]["pattern"] == "slot k = file idx, related slot 0", cause["null-slot"]
assert cause["partial-unmap"]["signature"]["code"] == "NT005", cause["partial-unmap"]
assert cause["worker-crash"]["signature"]["code"] == "" and "load_all_data" in cause["worker-crash"]["signature"]["function"]
PY
expect_grep "$T/err" "decoding 30/30: " "progress on stderr"

# The text: a header and one line per bucket, its count first.
run "$NT" postmortem "$T/cores"
expect_rc 1 -- "postmortem of the folder, text"
expect_grep "$T/out" "^30 cores, 3 causes$" "the summary line"
[ "$(grep -cE '^ +10 +[0-9a-f]{8} ' "$T/out")" = 3 ] && pass || fail "three lines of 10 cores: $(cat "$T/out")"
expect_grep "$T/out" "NT001 \(resolve through an empty slot\), SIGSEGV in .*: slot k = file idx, related slot 0  \(e\.g\. $T/cores/null-slot-" "the null-slot bucket"
expect_grep "$T/out" "NT005 .*SIGSEGV in .*release_unused.*\(e\.g\. $T/cores/partial-unmap-" "the partial-unmap bucket"
expect_grep "$T/out" "no finding, SIGSEGV \(null page\) in .*load_all_data.*\(e\.g\. $T/cores/worker-crash-" "the worker-crash bucket"
run "$NT" postmortem --quiet "$T/cores"
[ ! -s "$T/err" ] && pass || fail "--quiet: $(head -c 300 "$T/err")"

# Cores that cannot be decoded, among good ones: each reported in a bucket
# of its error, the others still grouped; exit 2.
one=$(sed -n 1p "$T/made" | cut -d' ' -f1)
head -c 200000 "$one" >"$T/truncated.core"
printf 'not a core' >"$T/text.core"
run "$NT" postmortem "$one" "$T/truncated.core" "$T/text.core" --json
expect_rc 2 -- "a truncated core and a text file among the cores"
python3 - "$T/out" <<'PY' && pass || fail "the undecodable cores' buckets: $(head -c 800 "$T/out")"
import json, sys
pm = json.load(open(sys.argv[1]))
by = {c["core"].rsplit("/", 1)[1]: c for c in pm["cores"]}
assert by["truncated.core"]["bucket"] == "PM003" and by["truncated.core"]["exit"] == 2, by["truncated.core"]
assert by["text.core"]["bucket"] == "PM002" and "ELF" in by["text.core"]["error"], by["text.core"]
assert len(pm["buckets"]) == 3 and pm["unreadable"] == 2
PY
run "$NT" postmortem "$T/cores" "$T/nothing-here"
expect_rc 2 -- "a missing path"
expect_grep "$T/err" "$T/nothing-here: PM001" "the missing path is named"
run "$NT" postmortem --all "$T/cores"
expect_rc 2 -- "--all without --coredump"
expect_grep "$T/err" "--all goes with --coredump" "--all without --coredump is said"
mkdir -p "$T/empty"
run "$NT" postmortem "$T/empty"
expect_rc 2 -- "a folder without cores"
expect_grep "$T/err" "no cores found in $T/empty" "an empty folder is said"
finish
