#!/usr/bin/env bash
# Hostile inputs (issue "never crash, hang, clobber"): each reproduction of a
# crafted GGUF, trace or core, a planted FIFO or symlink, gives a clear
# message and a documented exit code, in bounded time, and changes no file
# outside the named output. Every case failed before its fix.
NT=$1 LOADER=$2 LIB=$3
HERE=$(dirname "$0")
CRAFT="python3 $HERE/craft.py"
. "$HERE/../cli/lib.sh"
command -v zstd >/dev/null || { echo "SKIP: zstd not installed (tools/quickstart installs it)"; exit 77; }
cd "$T" || exit 1
file_cores
# bounded CMD...: runs CMD with a 60 s limit; a hang is a failure (124).
bounded() { run timeout -k 5 60 "$@"; [ "$RC" != 124 ] && [ "$RC" != 137 ] || fail "hung: $*"; }
no_crash() {  # no_crash WHAT: the last command neither crashed nor was killed
  case $RC in 0|1|2) pass ;; *) fail "$1: exit $RC (crash or kill); stderr: $(head -c 300 "$T/err")" ;; esac
}

"$NT" gen-model "$T/m" --splits 3 --size 6M >/dev/null || exit 1

# ---------------------------------------------------------------- FIFOs
mkfifo "$T/fifo.gguf" "$T/fifo.nttrace" "$T/fifo.core"
bounded "$NT" inspect "$T/fifo.gguf"; expect_rc 2 -- "inspect FIFO"
expect_grep "$T/err" "fifo.gguf.*FIFO, not a regular file" "inspect names the FIFO"
mkdir "$T/f" && cp "$T"/m-0000[12]-of-00003.gguf "$T/f/" && mkfifo "$T/f/m-00003-of-00003.gguf"
bounded "$NT" inspect "$T/f/m-00001-of-00003.gguf"; expect_rc 1 2 -- "inspect with a later split a FIFO"
expect_grep "$T/err" "m-00003-of-00003.gguf.*FIFO" "the FIFO split is named"
bounded "$NT" report "$T/fifo.nttrace"; expect_rc 2 -- "report FIFO"
expect_grep "$T/err" "FIFO, not a regular file" "report names the FIFO"
bounded "$NT" postmortem "$T/fifo.core"; expect_rc 2 -- "postmortem FIFO"
bounded "$NT" run -o "$T/fifo.nttrace" -- true; expect_rc 2 -- "run -o FIFO is refused"

# ---------------------------------------------------------------- GGUF
# Parse time linear in the file: a 4 KiB key on an 8M-element array
# (quadratic before: minutes, gigabytes of field names).
$CRAFT gguf-long-key-array "$T/long.gguf" 8000000
bounded "$NT" inspect "$T/long.gguf"; no_crash "long key x long array"
# A split.count of 65535 with 2 files: one line per run of missing splits.
"$NT" gen-model "$T/c" --splits 2 --size 2M >/dev/null
python3 - "$T/c-00001-of-00002.gguf" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
at = b.find(b"split.count") + len("split.count")
b[at + 4:at + 6] = (65535).to_bytes(2, "little")
open(p, "wb").write(b)
PY
bounded "$NT" inspect "$T/c-00001-of-00002.gguf"; expect_rc 1 -- "split.count 65535"
lines=$(cat "$T/out" "$T/err" | wc -l)
[ "$lines" -lt 60 ] && pass || fail "split.count 65535 printed $lines lines"
# Control bytes in a tensor name are escaped on a terminal's output.
cp "$T/m-00001-of-00003.gguf" "$T/esc.gguf"
python3 - "$T/esc.gguf" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
at = b.find(b"token_embd"); b[at] = 0x1b
open(p, "wb").write(b)
PY
bounded "$NT" inspect "$T/esc.gguf" --tensors; no_crash "escape in a tensor name"
if grep -q $'\x1b' "$T/out" "$T/err"; then fail "a raw ESC reached the output"; else pass; fi
expect_grep "$T/out" '\\x1boken_embd' "the ESC is shown as \\x1b"
# Invalid UTF-8 in a path: --json is still JSON.
mkdir "$T/$(printf 'bad\xff')" && cp "$T/m-00001-of-00003.gguf" "$T/$(printf 'bad\xff')/one.gguf"
bounded "$NT" inspect --json "$T/$(printf 'bad\xff')/one.gguf"; no_crash "inspect --json, 0xff in the path"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out" && pass || fail "inspect --json with 0xff is not JSON"

# ---------------------------------------------------------------- traces
NUMA_TRACE="file:$T/t.nttrace" LD_PRELOAD="$LIB" "$LOADER" "$T/m" --strategy per-file --threads 1 >/dev/null 2>&1 ||
  fail "the traced load failed"
$CRAFT trace-node "$T/t.nttrace" "$T/node.nttrace" 32767
bounded "$NT" report "$T/node.nttrace"; no_crash "report of node 32767"
if grep -qE '[0-9]{4,}%' "$T/out"; then fail "report printed a share over 100%: $(grep -E '[0-9]{4,}%' "$T/out" | head -1)"; else pass; fi
bounded "$NT" report --json "$T/node.nttrace"
python3 - "$T/out" <<'PY' && pass || fail "report --json: a placement array longer than 8 nodes"
import json, sys
j = json.load(open(sys.argv[1]))
assert all(len(m["placement"]["pages_per_node"]) <= 8 for m in j["mappings"]), "too long"
PY
$CRAFT trace-tsc-back "$T/t.nttrace" "$T/back.nttrace"
bounded "$NT" report "$T/back.nttrace"; no_crash "report of a backwards counter"
if grep -q "18446744073" "$T/out"; then fail "a backwards counter printed a wrapped duration"; else pass; fi
$CRAFT trace-bad-utf8 "$T/t.nttrace" "$T/utf.nttrace"
bounded "$NT" report --json "$T/utf.nttrace"; no_crash "report --json with invalid UTF-8"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out" && pass || fail "report --json with 0xff is not JSON"
bounded "$NT" report "$T/t.nttrace" --chrome-trace "$T/chrome.json"
[ "$(stat -c %a "$T/chrome.json")" = 600 ] && pass || fail "Chrome trace mode $(stat -c %a "$T/chrome.json"), not 600"

# ---------------------------------------------------------------- cores
# A core of the null-slot crash, its libnumatrace then moved away (a core
# read on another host): the recorder is found by its magic, across the
# segments it spans, and gives the same verdict.
mkdir "$T/lib" && cp "$LIB" "$T/lib/libnumatrace.so"
rm -f "$T"/core*
(ulimit -c unlimited; exec env LD_PRELOAD="$T/lib/libnumatrace.so" "$LOADER" "$T/m" --strategy unified \
  --fault null-slot --threads 1) >/dev/null 2>&1
core=$(newest_core "$T")
[ -n "$core" ] && mv "$core" "$T/null.core" && pass || fail "no core of the null-slot crash"
mv "$T/lib/libnumatrace.so" "$T/lib/gone.so"
bounded "$NT" postmortem --json "$T/null.core"; expect_rc 1 -- "postmortem, libnumatrace moved away"
python3 - "$T/out" <<'PY' && pass || fail "recorder not found by magic scan, or another verdict: $(head -c 300 "$T/out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["recorder"]["found_by"] == "magic scan", j["recorder"]
assert "Mapping slot 1 is empty" in j["verdict"], j["verdict"]
PY
# 2^40 bytes claimed by a segment the file does not hold (crashed in memmem).
$CRAFT core-big-load "$T/null.core" "$T/big.core"
bounded "$NT" postmortem "$T/big.core"; no_crash "postmortem of a segment claiming 2^40 bytes"
# Damaged program headers: exit 2, not 'no signal' and 0.
$CRAFT core-phnum0 "$T/null.core" "$T/phnum0.core"
bounded "$NT" postmortem "$T/phnum0.core"; expect_rc 2 -- "e_phnum 0"
expect_grep "$T/err" "PM002 e_phnum" "e_phnum 0 is named"
$CRAFT core-phoff "$T/null.core" "$T/phoff.core"
bounded "$NT" postmortem "$T/phoff.core"; expect_rc 2 -- "e_phoff past the end"
expect_grep "$T/err" "PM002 e_ph(off|num).*damaged" "a bad e_phoff is named"
# A .zst that expands past what its headers declare: decompression stops
# there (under a 1 MiB file-size limit, 1 GiB of zeros follow the core).
$CRAFT core-tiny "$T/tiny.core"
{ cat "$T/tiny.core"; head -c 1G /dev/zero; } | zstd -q -o "$T/bomb.core.zst"
bounded bash -c "ulimit -f 1024; exec '$NT' postmortem '$T/bomb.core.zst'"; expect_rc 1 -- "zstd bomb decoded within bounds"
expect_grep "$T/out" "^SIGSEGV" "the tiny core's signal"
# Paths named in the core that are now FIFOs (the executable, a split):
# libdwfl would block opening them.
mkdir "$T/fx" && cp "$LOADER" "$T/fx/loader" && cp "$T"/m-0000*.gguf "$T/fx/"
rm -f "$T"/core*
(cd "$T/fx" && ulimit -c unlimited && exec ./loader "$T/fx/m" --strategy per-file --fault worker-crash --threads 2) \
  >/dev/null 2>&1
core=$(newest_core "$T/fx")
[ -n "$core" ] && mv "$core" "$T/fx.core" && pass || fail "no core of the worker crash"
rm "$T/fx/loader" "$T/fx/m-00002-of-00003.gguf" && mkfifo "$T/fx/loader" "$T/fx/m-00002-of-00003.gguf"
bounded "$NT" postmortem "$T/fx.core"; expect_rc 1 -- "postmortem, FIFOs named in the core"
expect_grep "$T/err" "not a regular file" "the FIFOs are said"
# The decoder is a sandboxed child: a gdb that never answers is stopped by
# --timeout (PM011), a decoder that dies is PM010; numa-trace itself
# neither hangs nor crashes.
mkdir "$T/gdbext" && echo 'import time; time.sleep(600)' >"$T/gdbext/numatrace-gdb.py"
mv "$T/fx/loader" "$T/fx/loader.fifo" && cp "$LOADER" "$T/fx/loader"
bounded env NUMA_TRACE_GDB_DIR="$T/gdbext" "$NT" postmortem --debug-info gdb --timeout 3 "$T/fx.core"
expect_rc 1 2 -- "a gdb that hangs"
expect_grep "$T/err" "PM011|did not answer within 3 s" "the hang is said"
(env NUMA_TRACE_GDB_DIR="$T/gdbext" "$NT" postmortem --debug-info gdb --timeout 60 "$T/fx.core" \
  >"$T/out" 2>"$T/err") &
ntpid=$!
for _ in $(seq 100); do child=$(pgrep -P "$ntpid" | head -1); [ -n "$child" ] && pgrep -P "$child" >/dev/null && break; sleep 0.1; done
[ -n "$child" ] && kill -SEGV "$child"
wait "$ntpid"; RC=$?
expect_rc 2 -- "the decoder child killed by SIGSEGV"
# In an ASan build of numa-trace, ASan's handler catches the signal first
# and reports it; the sandbox says so.
if ldd "$NT" | grep -q libasan; then
  expect_grep "$T/err" "PM010 the decoder was stopped by the sanitizer's report above" "the decoder's death is said"
else
  expect_grep "$T/err" "PM010 the decoder died of SIGSEGV" "the decoder's death is said"
fi
finish
