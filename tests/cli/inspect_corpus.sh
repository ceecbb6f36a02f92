#!/usr/bin/env bash
# numa-trace inspect on the malformed corpus and on random truncations of a
# valid model: always exit 1 or 2 with a one-line error naming file and
# code, never a signal.
NT=$1 MAKE_CORPUS=$2
. "$(dirname "$0")/lib.sh"

"$MAKE_CORPUS" "$T/corpus" || { echo "make-corpus failed"; exit 1; }
for d in "$T"/corpus/*/; do
  read -r code file <"$d/EXPECT"
  run "$NT" inspect "$d$file"
  expect_rc 1 -- "$(basename "$d")" || continue
  expect_grep "$T/err" "$code" "$(basename "$d") names $code"
  expect_grep "$T/err" "^numa-trace: .*\.gguf" "$(basename "$d") names the file"
done

# A valid 6-split model: 6 files and the unified layout.
run "$NT" gen-model "$T/m" --splits 6 --size 3M
expect_rc 0 -- gen-model
run "$NT" inspect "$T/m-00002-of-00006.gguf"
expect_rc 0 -- inspect valid model
expect_grep "$T/out" "6 files" "inspect lists 6 files"
expect_grep "$T/out" "^ +5  m-00006-of-00006.gguf" "inspect shows file idx 5"
expect_grep "$T/out" "unified layout" "inspect shows the unified layout"
run "$NT" inspect --json --tensors "$T/m"
expect_rc 0 -- inspect --json
if command -v python3 >/dev/null; then
  python3 - "$T/out" <<'PY' && pass || fail "inspect --json content"
import json, sys
j = json.load(open(sys.argv[1]))
assert len(j["files"]) == 6, j["files"]
assert j["problems"] == []
offs = [f["unified_packed_offset"] for f in j["files"]]
sizes = [f["size"] for f in j["files"]]
assert offs == [sum(sizes[:i]) for i in range(6)], offs
assert all(f["unified_page_aligned_offset"] % j["page_size"] == 0 for f in j["files"])
assert len(j["tensors"]) == j["tensor_count"] and j["tensors"][0]["name"] == "token_embd.weight"
PY
fi

# Random truncations of every split (deterministic seed, 20 cuts each).
RANDOM=4242
for k in 1 2 3 4 5 6; do
  f=$(printf '%s/m-%05d-of-00006.gguf' "$T" "$k")
  size=$(stat -c %s "$f")
  cp "$f" "$T/orig"
  for i in $(seq 20); do
    cut=$(( (RANDOM * 32768 + RANDOM) % size ))
    cp "$T/orig" "$f" && truncate -s "$cut" "$f"
    run "$NT" inspect "$T/m"
    expect_rc 1 2 -- "split $k cut at $cut" || continue
    expect_grep "$T/err" "^numa-trace: .*GG0[0-9][0-9]" "split $k cut at $cut has a coded error"
  done
  cp "$T/orig" "$f"
done
finish
