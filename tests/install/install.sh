#!/usr/bin/env bash
# cmake --install into a temp prefix, then build and run a consumer through
# find_package(numatrace) and through pkg-config.
BUILD=$1 SRC=$2
. "$(dirname "$0")/../cli/lib.sh"

# Every file goes under the prefix, and nothing outside it is written:
# each file system call of the install that writes (strace), by path.
run strace -f -qq -o "$T/install.strace" -e trace=openat,open,creat,mkdir,mkdirat,rename,renameat,renameat2,link,linkat,symlink,symlinkat,unlink,unlinkat,chmod,fchmodat,chown,fchownat,utimensat,truncate \
  cmake --install "$BUILD" --prefix "$T/prefix"
expect_rc 0 -- "cmake --install"
python3 - "$T/install.strace" "$T/prefix/" "$BUILD/install_manifest.txt" <<'PY' && pass || fail "the install wrote outside its prefix"
import re, sys
log, prefix, manifest = sys.argv[1:4]
bad = []
for line in open(log):
    m = re.search(r'^\d+\s+(\w+)\((?:AT_FDCWD, |\d+, )?"([^"]*)"(.*)\) = (-?\d+)', line)
    if not m or int(m.group(4)) < 0:
        continue
    call, path, rest = m.group(1), m.group(2), m.group(3)
    if call in ("openat", "open") and not re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC", rest):
        continue
    if call in ("rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat"):
        path = re.findall(r'"([^"]*)"', line)[-1]  # the destination
    if path.startswith("/dev/") or path == manifest or path.startswith(prefix) or path == prefix.rstrip("/"):
        continue
    bad.append(line.strip())
if bad:
    print("\n".join(bad[:20]))
    sys.exit(1)
PY
# DESTDIR: the same install staged for a package, none of it in the
# prefix itself.
run env DESTDIR="$T/dest" cmake --install "$BUILD" --prefix /opt/numa-trace-install-test
expect_rc 0 -- "DESTDIR=... cmake --install"
[ ! -e /opt/numa-trace-install-test ] && pass || fail "DESTDIR: files written to /opt/numa-trace-install-test itself"
for f in bin/numa-trace lib/systemd/catalog/numa-trace.catalog libexec/numa-trace/numa-trace-loader \
  "share/gdb/auto-load/opt/numa-trace-install-test/lib/libnumatrace.so.0.1.0-gdb.py"; do
  [ -e "$T/dest/opt/numa-trace-install-test/$f" ] && pass || fail "DESTDIR: $f not staged"
done
# (the manifest names the installed paths, without DESTDIR)
while read -r f; do
  case $f in /opt/numa-trace-install-test/*) [ -e "$T/dest$f" ] || echo "$f"; ;; *) echo "$f" ;; esac
done <"$BUILD/install_manifest.txt" >"$T/outside"
[ ! -s "$T/outside" ] && pass || fail "DESTDIR: not staged under the prefix: $(head -5 "$T/outside")"
# The staged install runs from wherever it is: the demo finds the loader
# in libexec, the libraries beside bin, and the installed catalog and
# auto-load script are where systemd and gdb look under the prefix.
run "$T/dest/opt/numa-trace-install-test/bin/numa-trace" demo --dir "$T/demo"
expect_rc 0 -- "the staged command's demo"
expect_grep "$T/out" "Everything behaved as expected" "the staged demo"
for f in bin/numa-trace libexec/numa-trace/numa-trace-loader libexec/numa-trace/numa-trace-loader-unhooked \
  lib/systemd/catalog/numa-trace.catalog share/man/man1/numa-trace.1 share/man/man1/numa-trace-postmortem.1 \
  share/man/man3/libnumatrace.3 share/man/man7/numa-trace-findings.7 share/bash-completion/completions/numa-trace \
  include/numatrace/gguf/model.h include/numatrace/result.h include/numatrace/hooks.h \
  include/numatrace/recorder_layout.h include/numatrace/trace_format.h include/numatrace/rules/engine.h; do
  [ -e "$T/prefix/$f" ] && pass || fail "installed $f"
done
lib=$(find "$T/prefix" -name libnumatrace-gguf.a | head -1)
[ -n "$lib" ] && pass || fail "installed libnumatrace-gguf.a"
pc=$(find "$T/prefix" -name numatrace-gguf.pc | head -1)
[ -n "$pc" ] && pass || fail "installed numatrace-gguf.pc"

run cmake -S "$SRC/consumer" -B "$T/consumer" -DCMAKE_PREFIX_PATH="$T/prefix"
expect_rc 0 -- "configure consumer with find_package(numatrace)"
run cmake --build "$T/consumer"; expect_rc 0 -- "build consumer"
run "$T/prefix/bin/numa-trace" gen-model "$T/m" --size 1M --splits 2; expect_rc 0 -- "installed numa-trace"
# The installed `run` preloads the installed interposer (from
# <libdir>/numa-trace) into an unpatched loader: the trace has its mappings.
run "$T/prefix/bin/numa-trace" run -q -o "$T/unhooked.nttrace" -- "$T/prefix/libexec/numa-trace/numa-trace-loader-unhooked" "$T/m"
expect_rc 0 -- "installed run of the unhooked loader: $(tail -3 "$T/err")"
run "$T/prefix/bin/numa-trace" report --json "$T/unhooked.nttrace"
expect_grep "$T/out" '"kind": "per-file"' "the installed interposer recorded the per-file mappings"
run env MANPATH="$T/prefix/share/man" man -w numa-trace-journal
expect_grep "$T/out" "^$T/prefix/share/man/man1/numa-trace-journal\.1" "man finds the installed page"
# The installed command finds its post-mortem engine (a private module in
# <libdir>/numa-trace): its diagnose reads these facts and says what they
# lack (DG003, exit 2).
printf '{"mappings": [{"slot": 0}]}' >"$T/facts.json"
run "$T/prefix/bin/numa-trace" diagnose --facts "$T/facts.json"
expect_rc 2 -- "installed numa-trace diagnose"
expect_grep "$T/err" "DG003: facts incomplete" "the installed command ran its engine"
[ -n "$(find "$T/prefix" -path '*/numa-trace/numa-trace-engine.so')" ] && pass || fail "installed numa-trace-engine.so"
run "$T/consumer/consumer" "$T/m"; expect_rc 0 -- "consumer opens the model"
expect_grep "$T/out" "^2$" "consumer sees 2 splits"

rec=$(find "$T/prefix" -name 'libnumatrace.so.0' | head -1)
[ -n "$rec" ] && pass || fail "installed libnumatrace.so.0"
# A loader built against the installed hooks header, with and without the
# installed recorder preloaded.
cat >"$T/loader.c" <<'C'
#include <numatrace/hooks.h>
#include <stdio.h>
int main(void) {
  static char region[4096];
  NUMATRACE_MAPPING_CREATE(0, NUMATRACE_KIND_PER_FILE, region, sizeof region, -1, 0, NULL, NULL, 0);
  NUMATRACE_RESOLVE(1, 1, 0, 8, NULL, "output.weight");
  puts("loaded");
  return 0;
}
C
run cc -std=c11 -I"$T/prefix/include" "$T/loader.c" -o "$T/loader"; expect_rc 0 -- "build a loader with the installed hooks.h"
run "$T/loader"; expect_rc 0 -- "loader without numa-trace"
[ -s "$T/err" ] && fail "loader without numa-trace printed: $(cat "$T/err")" || pass
run env LD_PRELOAD="$rec" "$T/loader"; expect_rc 0 -- "loader with the installed libnumatrace"
expect_grep "$T/err" "NT001 resolve of 'output.weight'" "installed recorder finds NT001"
# gdb finds libnumatrace's auto-load script under the prefix's
# share/gdb/auto-load (given as a scripts directory), and the script finds
# the installed extension relative to the library.
if command -v gdb >/dev/null; then
  run gdb -nx -batch -iex "set auto-load safe-path /" -iex "add-auto-load-scripts-directory $T/prefix/share/gdb/auto-load" \
    -ex "set environment LD_PRELOAD=$rec" -ex "break puts" -ex run -ex "info auto-load python-scripts" \
    -ex "python import numatrace; print('extension from', numatrace.__file__)" "$T/loader"
  expect_grep "$T/out" "Yes +$T/prefix/share/gdb/auto-load$T/prefix/lib/libnumatrace\.so\.[0-9.]+-gdb\.py" \
    "gdb loaded the installed auto-load script"
  expect_grep "$T/out" "extension from $T/prefix/share/numa-trace/gdb/numatrace/__init__.py" "the installed extension"
fi
run env PKG_CONFIG_PATH="$(dirname "$pc")" pkg-config --libs numatrace
expect_grep "$T/out" "-lnumatrace" "pkg-config numatrace"

if [ -n "$pc" ]; then
  run env PKG_CONFIG_PATH="$(dirname "$pc")" pkg-config --cflags --libs numatrace-gguf
  expect_rc 0 -- "pkg-config numatrace-gguf"
  expect_grep "$T/out" "-lnumatrace-gguf" "pkg-config gives the library"
fi
finish
