# Shared by debuginfo.sh and matrix.sh (sourced, with NT set): a split
# model and its tensor index for the shaped loader, kernel-written cores of
# its crash, and the checks of a post-mortem read from the loader's DWARF.
. "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"
for tool in objcopy strip readelf python3; do
  command -v $tool >/dev/null || { echo "SKIP: $tool not installed (binutils and python3; tools/quickstart installs them)"; exit 77; }
done
cd "$T" || exit 1
file_cores
"$NT" gen-model "$T/m" --splits 3 --size 6M >/dev/null || { fail "gen-model"; finish; exit 1; }
"$NT" inspect --json --tensors "$T/m-00001-of-00003.gguf" >"$T/inspect.json"
python3 - "$T/inspect.json" "$T" >"$T/index" <<'PY'
import json, os, sys
j = json.load(open(sys.argv[1]))
for f in j["files"]:
    print("file", os.path.join(sys.argv[2], os.path.basename(f["path"])))
for t in j["tensors"]:
    print("tensor", t["file_idx"], t["offset"], t["size"], t["name"])
PY

crash() {  # crash NAME BINARY ARGS...: leaves the core in $T/NAME.core
  local name=$1 bin=$2; shift 2
  rm -f "$T"/core*
  (ulimit -c unlimited; exec "$bin" "$T/index" --threads 4 --missing 1 "$@") >/dev/null 2>"$T/$name.err"
  RC=$?
  expect_rc 139 -- "$name crashes with SIGSEGV" || return 1
  local c
  c=$(newest_core "$T")
  [ -n "$c" ] && mv "$c" "$T/$name.core" && pass || { fail "$name: no core"; return 1; }
}

verdict_re="^SIGSEGV at 0x0 \(null page\) in llama_mmap::addr\(\) const while resolving '([^']+)' \(file 1 of 3, offset 0x[0-9a-f]+\)\. Mapping slot 1 is empty\. No mapping holds file 1: create it before resolving its tensors\. File 1 of 3 is $T/m-00002-of-00003\.gguf \([0-9]+ bytes\)\."

# check_native NAME [postmortem options...]: the verdict, slots, files and
# weight, read by $reader (libdw, the default, or gdb), agree with the
# core's NT_FILE note and the model; $weight_from, when set, is where the
# weight must have come from.
reader=libdw
check_native() {
  local name=$1; shift
  local said="read natively with libdw"
  [ "$reader" = gdb ] && said="read through gdb"
  run "$NT" postmortem "$@" "$T/$name.core"
  expect_rc 1 -- "$name: postmortem"
  expect_grep "$T/out" "$verdict_re .*$said" "$name: verdict from $reader names slot 1, the file, the tensor"
  expect_grep "$T/out" "^  NT001 resolve of '[^']+' \(file 1 of 3" "$name: NT001"
  expect_grep "$T/out" "^    0  0x[0-9a-f]+ +0x[0-9a-f]+-0x[0-9a-f]+ +[0-9]+$" "$name: slot 0 with its range"
  expect_grep "$T/out" "^    1  <empty>$" "$name: slot 1 empty"
  expect_grep "$T/out" "^    2  0x[0-9a-f]+ +0x[0-9a-f]+-0x[0-9a-f]+ +[0-9]+$" "$name: slot 2 with its range"
  for i in 1 2 3; do
    expect_grep "$T/out" "^ +$((i - 1))  $T/m-0000$i-of-00003\.gguf  [0-9]+ bytes$" "$name: file $((i - 1)) path and size"
  done
  [ -z "$weight_from" ] ||
    expect_grep "$T/out" "weight: file 1, offset 0x[0-9a-f]+, tensor '[^']+', from $weight_from" "$name: weight from $weight_from"
  # The slots' ranges against the kernel's NT_FILE note, and the tensor's
  # offset against the model's own index.
  run "$NT" postmortem --json "$@" "$T/$name.core"
  if python3 - "$T/out" "$T/inspect.json" "$reader" <<'PY'; then pass; else fail "$name: JSON loader_state disagrees with NT_FILE or the model"; fi
import json, sys
j = json.load(open(sys.argv[1])); model = json.load(open(sys.argv[2])); reader = sys.argv[3]
ls = j["loader_state"]
assert j["verdict_source"].startswith("debug info (%s)" % reader), j["verdict_source"]
assert ls["source"] == reader
m = ls["mappings"]
assert [s["empty"] for s in m] == [False, True, False], m
nt = {f["file_idx"]: f for f in j["mapped_files"]}
for slot in (0, 2):
    assert int(m[slot]["base"], 16) == int(nt[slot]["start"], 16), (slot, m[slot], nt[slot])
    assert m[slot]["size"] == model["files"][slot]["size"]
assert [f["size"] for f in ls["files"]] == [f["size"] for f in model["files"]]
w = ls["weight"]
t = [t for t in model["tensors"] if t["name"] == w["tensor"]]
assert t and t[0]["file_idx"] == 1 == w["idx"] and t[0]["offset"] == w["offs"], (w, t)
assert [f["code"] for f in j["findings"]] == ["NT001"]
PY
}

