#!/usr/bin/env bash
# check.sh DEB...: the Debian packages installed with dpkg into a scratch
# root (its own dpkg database; the libraries they depend on are the
# host's), then numa-trace run from there: --version, the end-to-end demo
# (the loader from libexec, libnumatrace from the package's libdir, the
# post-mortem engine), `man numa-trace` from the installed pages, and the
# bash completion. Nothing is installed on the host itself.
. "$(dirname "$0")/../cli/lib.sh"
[ $# -gt 0 ] || { echo "usage: check.sh DEB..."; exit 2; }
R=$T/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/tmp"
: >"$R/var/lib/dpkg/status"
# --force-depends: the scratch database does not know the host's libc,
# libdw...; --force-script-chrootless: no maintainer script may need the
# root's own programs (the packages have none but triggers).
run dpkg --root="$R" --log=/dev/null --force-depends --force-script-chrootless -i "$@"
expect_rc 0 -- "dpkg -i into a scratch root: $(tail -5 "$T/err")"
run dpkg --root="$R" -l
for p in numa-trace libnumatrace0 libnumatrace-dev; do
  expect_grep "$T/out" "^ii +$p(:amd64)? " "$p installed in the scratch root"
done
NT=$R/usr/bin/numa-trace
run "$NT" --version
expect_grep "$T/out" "^numa-trace [0-9.]+ \(commit ([0-9a-f]{12}(-dirty)?|unknown), [A-Za-z]+ build\)$" "--version of the installed command"
run "$NT" demo --dir "$T/demo"
expect_rc 0 -- "the installed demo: $(tail -5 "$T/out")"
expect_grep "$T/out" "Everything behaved as expected" "the installed demo's end"
# (the demo's loader can only have been the package's: helpers are in
# libexec, not beside the command)
[ "$(ls "$R/usr/bin")" = numa-trace ] && [ -x "$R/usr/libexec/numa-trace/numa-trace-loader" ] && pass ||
  fail "bin holds only the command, libexec/numa-trace the loaders: $(ls "$R/usr/bin" "$R/usr/libexec/numa-trace")"
run env MANPATH="$R/usr/share/man" MANWIDTH=80 man numa-trace
expect_rc 0 -- "man numa-trace from the scratch root"
expect_grep "$T/out" "numa-trace-postmortem\(1\)" "man numa-trace shows the page"
run env MANPATH="$R/usr/share/man" man -w libnumatrace numa-trace-findings numa-trace-journal
expect_rc 0 -- "man -w of the library, findings and a subcommand page"
[ -f "$R/usr/share/bash-completion/completions/numa-trace" ] && pass || fail "the bash completion is installed"
[ -f "$R/usr/lib/systemd/catalog/numa-trace.catalog" ] && pass || fail "the journal catalog is installed"
ls "$R"/usr/share/gdb/auto-load/usr/lib/*/libnumatrace.so.*-gdb.py >/dev/null 2>&1 && pass ||
  fail "the gdb auto-load script mirrors the library's path"
finish
