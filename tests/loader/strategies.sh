#!/usr/bin/env bash
# Every strategy of the reference loader loads a 6-split model and reads
# the right bytes (--verify), with libnumatrace preloaded and finding
# nothing; hugetlbfs-backed unified and mirror regions included (root sets
# up hugepages and a mount, and puts both back afterwards).
NT=$1 LOADER=$2 LIB=$3
. "$(dirname "$0")/../cli/lib.sh"

"$NT" gen-model "$T/m" --splits 6 --size 12M >/dev/null || { echo "gen-model failed"; exit 1; }
load() {  # load DESCRIPTION ARGS...
  local d=$1; shift
  run env LD_PRELOAD="$LIB" NUMA_TRACE="jsonl:$T/t.jsonl" "$LOADER" "$T/m-00003-of-00006.gguf" --verify "$@"
  expect_rc 0 -- "$d" || return
  expect_grep "$T/out" "from 6 files with the .* strategy.*every byte verified" "$d verifies every byte"
  if grep -q '"type":"finding"' "$T/t.jsonl"; then fail "$d: finding: $(grep '"finding"' "$T/t.jsonl" | head -1)"; else pass; fi
  [ -s "$T/err" ] && fail "$d wrote to stderr: $(head -c 300 "$T/err")" || pass
  rm -f "$T/t.jsonl"
}
load "per-file" --strategy per-file
load "per-file, no prefetch, mlock, copy" --strategy per-file --no-prefetch --mlock --copy
load "per-file, 1 thread" --strategy per-file --threads 1
load "unified (anonymous, packed)" --strategy unified
load "unified (anonymous, page-aligned)" --strategy unified --page-aligned
load "unified, fixed address, mlock" --strategy unified --fixed-address --mlock
load "mirror ($(ls -d /sys/devices/system/node/node* | wc -l) node(s))" --strategy mirror --threads 4

# The unhooked build loads the same way and calls no hook.
run env LD_PRELOAD="$LIB" NUMA_TRACE="jsonl:$T/u.jsonl" "${LOADER}-unhooked" "$T/m" --strategy unified --verify
expect_rc 0 -- "unhooked loader"
[ -s "$T/u.jsonl" ] && fail "unhooked loader recorded events" || pass

# hugetlbfs: per-node hugepage files, MAP_HUGETLB|MAP_POPULATE.
if [ "$(id -u)" != 0 ]; then
  echo "note: not root, hugetlbfs strategies not run (they need nr_hugepages and a mount)"
else
  HP=/proc/sys/vm/nr_hugepages
  OLD_HP=$(cat $HP)
  mkdir -p "$T/hugetlbfs"
  restore_hugepages() {
    umount "$T/hugetlbfs" 2>/dev/null
    echo "$OLD_HP" >$HP
    cleanup_work
  }
  trap restore_hugepages EXIT
  echo $((OLD_HP + 32)) >$HP
  if ! mount -t hugetlbfs none "$T/hugetlbfs"; then
    fail "cannot mount hugetlbfs"
  elif [ "$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)" -lt 16 ]; then
    fail "the kernel gave fewer than 16 free hugepages ($(grep HugePages_Free /proc/meminfo))"
  else
    load "unified on hugetlbfs" --strategy unified --hugetlbfs "$T/hugetlbfs"
    load "unified on hugetlbfs at a fixed address" --strategy unified --hugetlbfs "$T/hugetlbfs" --fixed-address
    load "mirror on hugetlbfs" --strategy mirror --hugetlbfs "$T/hugetlbfs"
    [ -z "$(ls "$T/hugetlbfs")" ] && pass || fail "hugepage files left behind: $(ls "$T/hugetlbfs")"
  fi
fi
finish
