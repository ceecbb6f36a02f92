#!/usr/bin/env bash
# Programs that include only numatrace/hooks.h run unchanged without
# libnumatrace (no link dependency), and record when it is preloaded.
C=$1 CXX=$2 LIB=$3
. "$(dirname "$0")/../cli/lib.sh"

for i in 1 2 3; do head -c $((8192 * i + 100)) /dev/urandom >"$T/m-0000$i-of-00003.gguf"; done
FILES=("$T"/m-0000{1,2,3}-of-00003.gguf)

for prog in "$C" "$CXX"; do
  name=$(basename "$prog")
  if readelf -d "$prog" | grep -q numatrace; then fail "$name links libnumatrace"; else pass; fi
  if [ "$prog" = "$C" ]; then args=(per-file "${FILES[@]}"); else args=("${FILES[@]}"); fi
  run "$prog" "${args[@]}"
  expect_rc 0 -- "$name without numa-trace"
  cp "$T/out" "$T/plain.out"
  expect_grep "$T/out" "^ok 3 files" "$name output"
  [ -s "$T/err" ] && fail "$name without numa-trace wrote to stderr: $(cat "$T/err")" || pass

  rm -f "$T/t.jsonl"
  run env LD_PRELOAD="$LIB" NUMA_TRACE="jsonl:$T/t.jsonl" "$prog" "${args[@]}"
  expect_rc 0 -- "$name with libnumatrace preloaded"
  cmp -s "$T/out" "$T/plain.out" && pass || fail "$name output changed under numa-trace"
  expect_grep "$T/t.jsonl" '"type":"model_begin"' "$name records model begin"
  expect_grep "$T/t.jsonl" '"type":"file_open".*"file_idx":2' "$name records file 2"
  expect_grep "$T/t.jsonl" '"type":"create","tid":[0-9]+,"slot":2,"kind":"per-file"' "$name records slot 2"
  expect_grep "$T/t.jsonl" '"type":"resolve".*"slot":1,"file_idx":1' "$name records a resolve"
  expect_grep "$T/t.jsonl" '"type":"destroy"' "$name records destroy"
  if grep -q '"type":"finding"' "$T/t.jsonl"; then fail "$name: unexpected finding"; else pass; fi
done

# A malformed NUMA_TRACE is reported, and the program still runs.
run env LD_PRELOAD="$LIB" NUMA_TRACE="jsonl" "$C" per-file "${FILES[@]}"
expect_rc 0 -- "bad NUMA_TRACE"
expect_grep "$T/err" "NUMA_TRACE has an unknown word" "bad NUMA_TRACE is reported"
# An unwritable sink is reported, and the program still runs.
run env LD_PRELOAD="$LIB" NUMA_TRACE="file:$T/no/such/dir/t" "$C" per-file "${FILES[@]}"
expect_rc 0 -- "unwritable sink"
expect_grep "$T/err" "no/such/dir/t: cannot create: No such file" "unwritable sink is named"
finish
