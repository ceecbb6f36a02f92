#!/usr/bin/env bash
# numa-trace postmortem on real cores written by the kernel during the test:
# the reference loader's faults with and without numa-trace, the .zst form,
# a golden --json, and a corpus of broken cores.
NT=$1 LOADER=$2 LIB=$3 GOLDEN=$4
. "$(dirname "$0")/../cli/lib.sh"
command -v zstd >/dev/null || { echo "SKIP: zstd not installed (tools/quickstart installs it)"; exit 77; }
cd "$T" || exit 1
file_cores
"$NT" gen-model "$T/m" --splits 6 --size 12M >/dev/null

crash() {  # crash NAME WANT_RC ENV... -- LOADER-ARGS...: leaves the core in $T/NAME.core
  local name=$1 want=$2; shift 2
  local env=()
  while [ "$1" != "--" ]; do env+=("$1"); shift; done
  shift
  rm -f "$T"/core*
  (ulimit -c unlimited; exec env "${env[@]}" "$LOADER" "$T/m" "$@") >/dev/null 2>"$T/$name.err"
  RC=$?
  expect_rc "$want" -- "$name crashes" || return 1
  local c
  c=$(newest_core "$T")
  [ -n "$c" ] && mv "$c" "$T/$name.core" && pass || { fail "$name: no core"; return 1; }
}

# 1. Null slot under numa-trace: the verdict names slot, file, tensor, slot 0.
crash null 139 LD_PRELOAD="$LIB" -- --strategy unified --fault null-slot --threads 1
run "$NT" postmortem "$T/null.core"
expect_rc 1 -- "postmortem of the null-slot core"
tensor=$(grep -o "NT001 resolve of '[^']*'" "$T/null.err" | head -1 | sed "s/.*'\(.*\)'/\1/")
expect_grep "$T/out" "^SIGSEGV at 0x0 \(null page\) in llama_mmap::addr\(\) const while resolving '$tensor' \(file 1 of 6, offset 0x[0-9a-f]+\)\. Mapping slot 1 is empty\. The unified mapping for files 0-5 lives in slot 0 \(base 0x[0-9a-f]+, file 1 at \+0x[0-9a-f]+\)\. Resolve through slot 0 at that offset\.$" "verdict names slot, file, tensor and slot 0"
expect_grep "$T/out" "^ +1  <empty>" "slot table shows slot 1 empty"
expect_grep "$T/out" "^thread [0-9]+ \(crashed\)" "crashing thread first"
expect_grep "$T/out" "^  #[0-9]+ +0x[0-9a-f]+  (\(inlined\) )?llama_mmap::addr\(\) const" "frames symbolized, inlined calls named"
zstd -q "$T/null.core" -o "$T/null.core.zst"
run "$NT" postmortem "$T/null.core.zst"
expect_rc 1 -- "postmortem of the .zst core"
expect_grep "$T/out" "Mapping slot 1 is empty\. The unified mapping for files 0-5 lives in slot 0" "same verdict from .zst"
# A .zst cut short inside its frame: read as far as it goes, said, exit 2.
head -c $(($(stat -c %s "$T/null.core.zst") / 2)) "$T/null.core.zst" >"$T/cut.core.zst"
run "$NT" postmortem "$T/cut.core.zst"
expect_rc 2 -- "postmortem of a .zst cut short"
expect_grep "$T/err" "warning: PM003 the \.zst stream ends inside a frame: the core was cut short" "the cut .zst is said"

# Golden --json (addresses, ids and paths normalized).
run "$NT" postmortem --json "$T/null.core"
python3 - "$T/out" "$tensor" >"$T/null.json" <<'PY'
import json, re, sys
j = json.load(open(sys.argv[1]))
norm = lambda s: re.sub(r"0x[0-9a-f]+", "0xADDR", s.replace(sys.argv[2], "TENSOR"))
out = {
  "signal": j["signal"], "fault_class": j["fault_class"], "verdict": norm(j["verdict"]),
  "findings": [{k: (norm(v) if isinstance(v, str) else v) for k, v in f.items()
                if k in ("code", "slot", "file_idx", "related_slot", "message")} for f in j["findings"]],
  "slots": [{k: s[k] for k in ("slot", "kind", "state", "extents")} for s in j["slots"]],
  "recorder_found_by": j["recorder"]["found_by"],
  "crashed_thread_first": j["threads"][0]["crashed"],
}
print(json.dumps(out, indent=2, sort_keys=True))
PY
if diff -u "$GOLDEN/null_slot.json" "$T/null.json"; then pass; else fail "golden null_slot.json differs"; fi

# 2. Partial unmap followed by an access: fault inside the released range.
crash unmapped 139 LD_PRELOAD="$LIB" -- --strategy unified --fault partial-unmap
run "$NT" postmortem "$T/unmapped.core"
expect_rc 1 -- "postmortem of the partial-unmap core"
expect_grep "$T/out" "^SIGSEGV at 0x[0-9a-f]+ \(inside a destroyed or unmapped mapping\)" "fault class: released range"
expect_grep "$T/out" "NT005 unmap_fragment of 0x[0-9a-f]+ bytes" "NT005 from the recorder"

# 3. Offset drift under strict mode: SIGABRT at the finding.
crash drift 134 LD_PRELOAD="$LIB" NUMA_TRACE=strict -- --strategy unified --fault offset-drift --threads 1
run "$NT" postmortem "$T/drift.core"
expect_rc 1 -- "postmortem of the strict-mode core"
expect_grep "$T/out" "^SIGABRT .* NT002 resolve of '[^']+' \(file 1 of 6" "verdict is NT002"

# 4. A crash in a worker thread, not a mapping problem.
crash worker 139 LD_PRELOAD="$LIB" -- --strategy per-file --fault worker-crash --threads 3
run "$NT" postmortem "$T/worker.core"
expect_rc 1 -- "postmortem of the worker crash"
expect_grep "$T/out" "^SIGSEGV at 0x0 \(null page\) in .*load_all_data" "worker crash located"
expect_grep "$T/out" "No recorded mapping explains it" "worker crash is not blamed on a slot"

# 5. Without numa-trace: NT_FILE still gives the GGUF mappings and the frames.
crash plain 139 -- --strategy per-file --fault worker-crash --threads 2
run "$NT" postmortem "$T/plain.core"
expect_rc 1 -- "postmortem without the recorder"
# The loader (read from the main thread's frames, the worker's holding
# none) shows every slot mapped: the crash is not a slot's.
expect_grep "$T/out" "^SIGSEGV at 0x0 \(null page\) in .*load_all_data.* None of the loader's 6 mapping slots is empty\. .*this core has no usable flight recorder" "says no slot is empty and the recorder is absent"
for i in 0 1 2 3 4 5; do
  expect_grep "$T/out" "^  file $i  0x[0-9a-f]+-0x[0-9a-f]+  \+0x0  .*m-0000$((i + 1))-of-00006.gguf" "NT_FILE mapping of file $i"
done
expect_grep "$T/out" "^thread [0-9]+ \(crashed\)" "frames without the recorder"

# 5b. Without numa-trace, the null slot is still named from the loader's
# debug info: natively (libdw), or by gdb with numa-trace's extension when
# asked; --debug-info none leaves the NT_FILE verdict.
crash plaindbg 139 -- --strategy unified --fault null-slot --threads 1
run "$NT" postmortem "$T/plaindbg.core"
expect_rc 1 -- "postmortem of a null-slot core without the recorder"
expect_grep "$T/out" "while resolving 'blk\.[0-9]+\.[a-z_]+\.weight' \(file 1 of 6, offset 0x[0-9a-f]+\)\. Mapping slot 1 is empty\. The unified mapping for files 0-5 lives in slot 0 .*\(From the loader's debug info, read natively with libdw" "null slot named from debug info (libdw)"
dtensor=$(grep -oE "while resolving '[^']+'" "$T/out" | cut -d"'" -f2)
offset=$(grep -oE "file 1 of 6, offset 0x[0-9a-f]+" "$T/out" | head -1 | grep -oE "0x[0-9a-f]+")
run "$NT" postmortem --debug-info gdb "$T/plaindbg.core"
expect_grep "$T/out" "while resolving '$dtensor' \\(file 1 of 6, offset $offset\\)\\. Mapping slot 1 is empty\. The unified mapping for files 0-5 lives in slot 0 .*\(From the loader's debug info, read through gdb" "gdb gives the same verdict"
run "$NT" postmortem --debug-info none --json "$T/plaindbg.core"
expect_grep "$T/out" '"verdict_source": "NT_FILE only"' "--debug-info none leaves the NT_FILE verdict"

# 6. Broken cores: exit 2 with a message, never a signal.
size=$(stat -c %s "$T/null.core")
for cut in 32 200 4096 $((size / 3)) $((size - 100)); do
  head -c $cut "$T/null.core" >"$T/cut.core"
  run "$NT" postmortem "$T/cut.core"
  expect_rc 2 -- "core cut at $cut"
  expect_grep "$T/err" "numa-trace" "core cut at $cut says why"
done
cp "$T/null.core" "$T/arch.core"; printf '\xb7\x00' | dd of="$T/arch.core" bs=1 seek=18 conv=notrunc 2>/dev/null
run "$NT" postmortem "$T/arch.core"; expect_rc 2 -- "wrong architecture"
expect_grep "$T/err" "PM004" "wrong architecture named"
printf 'not a core at all, just text that is longer than an ELF header is......' >"$T/text.core"
run "$NT" postmortem "$T/text.core"; expect_rc 2 -- "not an ELF file"
expect_grep "$T/err" "PM002" "not ELF named"
head -c 1000 /dev/urandom | zstd -q >"$T/bad.zst"; printf 'garbage' >>"$T/bad.zst"
run "$NT" postmortem "$T/bad.zst"; expect_rc 2 -- "a .zst that is not a core"
run "$NT" postmortem "$T/missing.core"; expect_rc 2 -- "missing core"
# Corrupt notes: the first note's descriptor size made huge.
python3 - "$T/null.core" "$T/notes.core" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
phoff, = struct.unpack_from("<Q", b, 32); phnum, = struct.unpack_from("<H", b, 56)
for i in range(phnum):
    p = phoff + i * 56
    if struct.unpack_from("<I", b, p)[0] == 4:  # PT_NOTE
        off, = struct.unpack_from("<Q", b, p + 8)
        struct.pack_into("<I", b, off + 4, 0x7fffffff)
        break
open(sys.argv[2], "wb").write(b)
PY
run "$NT" postmortem "$T/notes.core"; expect_rc 2 -- "corrupt notes"
expect_grep "$T/err" "PM005" "corrupt notes named"
# The recorder's magic, or its version, damaged: reported, the rest still decoded.
python3 - "$T/null.core" "$T" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
at = b.find(struct.pack("<Q", 0x5243454c46544e23))
assert at > 0
m = bytearray(b); m[at] ^= 0xff; open(sys.argv[2] + "/magic.core", "wb").write(m)
v = bytearray(b); struct.pack_into("<I", v, at + 8, 99); open(sys.argv[2] + "/version.core", "wb").write(v)
PY
run "$NT" postmortem "$T/magic.core"; expect_rc 1 -- "recorder with a bad magic"
expect_grep "$T/out" "no valid magic" "bad magic explained"
run "$NT" postmortem "$T/version.core"; expect_rc 1 -- "recorder of an unknown version"
expect_grep "$T/out" "has version 99 .* this numa-trace reads version 1" "unknown version explained"
finish
