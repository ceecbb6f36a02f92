#!/usr/bin/env bash
# regenerate.sh NUMA_TRACE [--golden]: rewrites the checked-in post-mortem
# corpus in this folder (tests/postmortem/corpus.sh reads it; docs/testing.md).
#
# The upstream-shaped loader (tests/debuginfo) linked statically, so that a
# core and its one binary are the whole input: no libc or libstdc++ of the
# machine that reads it. Built -O2 -g (kept stripped, with its DWARF in a
# .debug file found by build-id) and -O0 -g, crashed by the kernel through
# mappings[1], and two cores damaged on purpose:
#   o2-null-slot   4 threads, load_all_data
#   o2-by-index    the weight only through the tensor and the weights_map
#   o2-mlock       the mlock slots too
#   o0-null-slot   everything in memory, through the frame base
#   truncated      o2-null-slot cut in the middle of its segments (PM003)
#   bad-notes      o2-null-slot with a note whose size runs past the notes (PM005)
# Then each NAME.json: `numa-trace postmortem --json --offline` of it, paths
# of this folder written as $CORPUS. With --golden only the .json files are
# rewritten (after a deliberate change of the output).
set -eu
NT=$1
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$HERE/../../debuginfo
for tool in g++ zstd objcopy strip readelf python3; do
  command -v $tool >/dev/null || { echo "needs $tool" >&2; exit 1; }
done

golden() {  # golden NAME [postmortem options]: NAME.json from NAME.core.zst
  local name=$1 exe; shift
  local w; w=$(mktemp -d)
  for b in o2 o0; do zstd -q -d -f "$HERE/$b.zst" -o "$w/$b" && chmod +x "$w/$b"; done
  mkdir -p "$w/debug" && zstd -q -d -f "$HERE/o2.debug.zst" -o "$w/o2.debug"
  local id; id=$(readelf -n "$w/o2" | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
  mkdir -p "$w/debug/.build-id/${id:0:2}" && mv "$w/o2.debug" "$w/debug/.build-id/${id:0:2}/${id:2}.debug"
  case $name in o0*) exe=$w/o0 ;; *) exe=$w/o2 ;; esac
  set +e
  "$NT" postmortem --json --offline --exe "$exe" --debug-dir "$w/debug" "$@" "$HERE/$name.core.zst" >"$w/out.json"
  set -e
  python3 "$HERE/normalize.py" "$w/out.json" "$HERE" "$w" >"$HERE/$name.json"
  rm -rf "$w"
}

if [ "${2:-}" != --golden ]; then
  T=$(mktemp -d)
  trap 'rm -rf "$T"' EXIT
  cd "$T"
  . "$HERE/../../cli/lib.sh"
  cd "$T"
  file_cores
  for v in o2:-O2 o0:-O0; do
    # Source paths as /src/... whatever the checkout's folder (they are in
    # the goldens).
    (cd "$SRC" && g++ "${v#*:}" -g -std=c++17 -static -pthread -fdebug-prefix-map="$(pwd)"=/src \
      -o "$T/${v%%:*}" main.cpp llama-model-loader.cpp llama-mmap.cpp)
  done
  "$NT" gen-model "$T/m" --splits 3 --size 1M >/dev/null
  "$NT" inspect --json --tensors "$T/m-00001-of-00003.gguf" | python3 -c '
import json, os, sys
j = json.load(sys.stdin)
for f in j["files"]: print("file", os.path.join(sys.argv[1], os.path.basename(f["path"])))
for t in j["tensors"]: print("tensor", t["file_idx"], t["offset"], t["size"], t["name"])' "$T" >"$T/index"
  crash() {  # crash NAME BINARY ARGS...
    local name=$1 bin=$2; shift 2
    rm -f "$T"/core*
    (ulimit -c unlimited; exec "$bin" "$T/index" --threads 4 --missing 1 "$@") >/dev/null 2>&1 || true
    local c; c=$(ls -t "$T"/core* | head -1)
    zstd -q -19 -f "$c" -o "$HERE/$name.core.zst"
    [ "$name" != o2-null-slot ] || cp "$c" "$T/o2.core"
  }
  crash o2-null-slot "$T/o2"
  crash o2-by-index "$T/o2" --by-index
  crash o2-mlock "$T/o2" --mlock
  crash o0-null-slot "$T/o0"
  python3 - "$T/o2.core" "$T/truncated" "$T/bad-notes" <<'PY'
import struct, sys
core = open(sys.argv[1], "rb").read()
# Cut in the middle of the last PT_LOAD segment's bytes.
phoff, = struct.unpack_from("<Q", core, 0x20)
phentsize, phnum = struct.unpack_from("<HH", core, 0x36)
loads = []
for i in range(phnum):
    p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", core, phoff + i * phentsize)
    if p_type == 1 and p_filesz:
        loads.append((p_offset, p_filesz))
off, size = loads[len(loads) // 2]
open(sys.argv[2], "wb").write(core[: off + size // 2])
# The first note's descriptor size made larger than the notes.
for i in range(phnum):
    p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", core, phoff + i * phentsize)
    if p_type == 4:
        bad = bytearray(core)
        struct.pack_into("<I", bad, p_offset + 4, p_filesz * 4)
        open(sys.argv[3], "wb").write(bad)
        break
PY
  zstd -q -19 -f "$T/truncated" -o "$HERE/truncated.core.zst"
  zstd -q -19 -f "$T/bad-notes" -o "$HERE/bad-notes.core.zst"
  # The binaries: o2 stripped, its DWARF beside it (by build-id at test
  # time); o0 whole.
  objcopy --only-keep-debug "$T/o2" "$T/o2.debug"
  strip --strip-debug "$T/o2"
  zstd -q -19 -f "$T/o2" -o "$HERE/o2.zst"
  zstd -q -19 -f "$T/o2.debug" -o "$HERE/o2.debug.zst"
  zstd -q -19 -f "$T/o0" -o "$HERE/o0.zst"
  # The goldens from the checked-in files alone, as the test reads them
  # (the binaries at the paths the cores name are gone).
  cd / && rm -rf "$T"
fi
for name in o2-null-slot o2-by-index o2-mlock o0-null-slot truncated bad-notes; do golden "$name"; done
du -sh "$HERE"
