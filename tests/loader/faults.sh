#!/usr/bin/env bash
# Each injected failure mode of the reference loader yields the finding
# code documented for it (docs/loader.md), or its crash with the right slot.
NT=$1 LOADER=$2 LIB=$3
. "$(dirname "$0")/../cli/lib.sh"

"$NT" gen-model "$T/m" --splits 6 --size 12M >/dev/null || { echo "gen-model failed"; exit 1; }
fault() {  # fault NAME WANT_RC CODE [ARGS...]
  local name=$1 want=$2 code=$3; shift 3
  (cd "$T" && ulimit -c 0 && exec env LD_PRELOAD="$LIB" NUMA_TRACE="file:$T/$name.nttrace" \
     "$LOADER" "$T/m" --fault "$name" --threads 1 "$@") >"$T/out" 2>"$T/fault.err"
  RC=$?
  cp "$T/fault.err" "$T/err"
  expect_rc "$want" -- "--fault $name" || return
  expect_grep "$T/fault.err" "^numa-trace: $code " "--fault $name reports $code"
  # The trace says the same, and report exits 1 on it.
  run "$NT" report "$T/$name.nttrace"
  expect_rc 1 -- "report of --fault $name"
  expect_grep "$T/out" "^  $code x[0-9]+" "report of --fault $name lists $code"
}
fault null-slot 139 NT001 --strategy unified
expect_grep "$T/fault.err" "NT001 resolve of 'blk\.[0-9]+\.[a-z_]+\.weight' \(file 1 of 6, offset 0x[0-9a-f]+\) through slot 1, which is empty; the unified mapping covering files 0-5 is in slot 0" "null-slot names slot, file and tensor"
expect_grep "$T/fault.err" "^numa-trace: SIGSEGV at fault address 0x0 .* through slot 1, which is empty" "null-slot crash line"
fault same-object 139 NT010 --strategy unified
expect_grep "$T/fault.err" "^numa-trace: NT001 .*through slot 1, which is empty" "same-object falls through to the null slot"
fault mlock-null-slot 139 NT014 --strategy unified
fault offset-drift 1 NT002 --strategy unified --verify
expect_grep "$T/fault.err" "verify: tensor .* differs" "offset-drift: --verify catches the wrong bytes"
fault offset-drift 1 NT002 --strategy unified --page-aligned --verify
fault partial-unmap 139 NT005 --strategy unified
fault stale-copy 1 NT011 --strategy unified --verify
fault fixed-collision 1 NT012 --strategy unified
expect_grep "$T/fault.err" "asked at 0x200000000000 but landed at" "fixed-collision: the loader refuses"
fault leak 0 NT007 --strategy per-file

nodes=$(ls -d /sys/devices/system/node/node[0-9]* | wc -l)
if [ "$nodes" -ge 2 ]; then
  fault wrong-replica 0 NT008 --strategy mirror --threads 2
  fault misbind 0 NT009 --strategy mirror
else
  # One node: the loader says plainly why it cannot (the 2-node VM test runs these).
  for f in wrong-replica misbind; do
    run "$LOADER" "$T/m" --strategy mirror --fault $f
    expect_rc 2 -- "--fault $f on one node"
    expect_grep "$T/err" "needs at least 2 NUMA nodes; this machine has 1" "--fault $f explains"
  done
fi

# Bad arguments.
run "$LOADER" "$T/m" --fault nonsense; expect_rc 2 -- "unknown fault"
run "$LOADER" "$T/none.gguf"; expect_rc 2 -- "missing model"
expect_grep "$T/err" "none.gguf" "missing model named"
run "$LOADER" "$T/m" --strategy unified --hugetlbfs "$T"; expect_rc 2 -- "not a hugetlbfs mount"
expect_grep "$T/err" "is not a hugetlbfs mount" "hugetlbfs check explained"
finish
