#!/usr/bin/env bash
# numa-trace check on this machine (whatever its nodes: it says what it
# cannot know) and on a 2-node machine described by fake sysfs/procfs
# trees (--sysfs, --procfs). The real 2-node cases run in tests/vm.
NT=$1
. "$(dirname "$0")/lib.sh"
"$NT" gen-model "$T/m" --splits 3 --size 3M >/dev/null 2>&1 || { echo "gen-model failed"; exit 1; }
M=$T/m-00001-of-00003.gguf

run "$NT" check "$M"
expect_rc 0 -- "check of a small model on this machine"
expect_grep "$T/out" "^verdict: the per-file load fits this machine" "the verdict"
expect_grep "$T/out" "^cannot know" "what it cannot know"
expect_grep "$T/out" "which nodes the load's threads will run on" "the threads' nodes are not known beforehand"
expect_grep "$T/out" "^  file 2: [0-9]+% resident" "the page cache of every split"
nodes=$(ls -d /sys/devices/system/node/node[0-9]* 2>/dev/null | wc -l)
if [ "$nodes" -le 1 ]; then
  expect_grep "$T/out" "this machine has one node, so every read is local" "one node: says what it cannot judge"
fi
run "$NT" check "$M" --strategy mirror --json
expect_rc 0 -- "check --json"
python3 - "$T/out" <<'PY' && pass || fail "check --json: $(head -c 300 "$T/out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["strategy"] == "mirror" and j["fits"] is True, j
assert len(j["splits"]) == 3 and all(s["page_cache"]["pages"] > 0 for s in j["splits"]), j["splits"]
assert j["copies"] == len(j["machine"]["nodes"]) >= 1, j
assert j["unknown"], "nothing said about what it cannot know"
PY

# Wrong arguments and unreadable models: exit 2, naming what.
run "$NT" check "$T/none.gguf";                 expect_rc 2 -- "a missing model"
expect_grep "$T/err" "none.gguf.*GG001" "the missing model is named"
run "$NT" check "$M" --strategy sideways;       expect_rc 2 -- "an unknown strategy"
printf 'GGUF\003\000\000\000' >"$T/bad.gguf"
run "$NT" check "$T/bad.gguf";                  expect_rc 2 -- "a truncated GGUF"
run "$NT" check "$M" --strategy mirror --hugetlbfs "$T"
expect_rc 1 -- "--hugetlbfs on a folder that is no hugetlbfs mount"
expect_grep "$T/out" "is not a hugetlbfs mount" "the folder is named"

# A 2-node machine in fake trees: node 1 has 64 MiB free and 1 hugepage.
F=$T/fake
node() {  # node ID FREE_MIB FREE_HUGEPAGES
  local d=$F/sys/devices/system/node/node$1
  mkdir -p "$d/hugepages/hugepages-2048kB"
  echo "$1" >"$d/cpulist"
  printf 'Node %s MemTotal: 1048576 kB\nNode %s MemFree: %s kB\nNode %s Active(file): 0 kB\nNode %s Inactive(file): 0 kB\n' \
    "$1" "$1" $(($2 * 1024)) "$1" "$1" >"$d/meminfo"
  echo 8 >"$d/hugepages/hugepages-2048kB/nr_hugepages"
  echo "$3" >"$d/hugepages/hugepages-2048kB/free_hugepages"
}
node 0 900 8
node 1 1 1
mkdir -p "$F/proc/sys/kernel" "$F/proc/self"
echo 0 >"$F/proc/sys/kernel/numa_balancing"
printf 'Max locked memory 65536 65536 bytes\n' >"$F/proc/self/limits"
printf 'none /nt-fake-huge hugetlbfs rw,pagesize=2M 0 0\n' >"$F/proc/self/mounts"
run "$NT" check "$M" --strategy mirror --sysfs "$F/sys" --procfs "$F/proc"
expect_rc 1 -- "a mirror node 1 has no room for"
expect_grep "$T/out" "^  NT009 node 1: its replica needs [0-9.]+ MiB and node 1 has 1.0 MiB available" "node 1 named, with the numbers"
expect_grep "$T/out" "^verdict: the mirror load does not fit this machine \(1 problem\)" "the verdict counts it"
run "$NT" check "$M" --strategy mirror --hugetlbfs /nt-fake-huge --sysfs "$F/sys" --procfs "$F/proc"
expect_rc 1 -- "a hugetlbfs mirror with 1 hugepage on node 1"
expect_grep "$T/out" "^  NT009 node 1: its replica needs 2 hugepages of 2.0 MiB and node 1 has 1 free: 1 missing" "the hugepages missing on node 1"
expect_grep "$T/out" "fix: echo 9 > /sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages" "how many to reserve"
run "$NT" check "$M" --strategy per-file --sysfs "$F/sys" --procfs "$F/proc"
expect_rc 0 -- "per-file fits the fake machine"
finish
