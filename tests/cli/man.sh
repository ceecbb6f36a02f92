#!/usr/bin/env bash
# The man pages built from docs/: each renders with man without a single
# groff warning, has a NAME line lexgrog reads (what mandb indexes), every
# subcommand has its page, and every option of `numa-trace SUB --help` is
# in the page's OPTIONS.
NT=$1 MANDIR=$2
. "$(dirname "$0")/lib.sh"
subs="gen-model inspect check run report placement postmortem diagnose journal demo"
pages=("$MANDIR/numa-trace.1" "$MANDIR/libnumatrace.3" "$MANDIR/numa-trace-findings.7")
for s in $subs; do pages+=("$MANDIR/numa-trace-$s.1"); done
for p in "${pages[@]}"; do
  [ -s "$p" ] || { fail "$p was not built"; continue; }
  LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings=w -l "$p" >"$T/page" 2>"$T/warnings"
  [ ! -s "$T/warnings" ] && pass || fail "$(basename "$p"): groff warns: $(head -5 "$T/warnings")"
  [ "$(wc -l <"$T/page")" -gt 15 ] && pass || fail "$(basename "$p"): renders to $(wc -l <"$T/page") lines"
  lexgrog "$p" >"$T/lexgrog" 2>&1 && pass || fail "$(basename "$p"): lexgrog: $(cat "$T/lexgrog")"
done
for s in $subs; do
  LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$MANDIR/numa-trace-$s.1" 2>/dev/null >"$T/page"
  "$NT" "$s" --help | sed -n 's/^  \(-[^ ]*\).*/\1/p' | tr ',' '\n' | sed 's/[={].*//' >"$T/options"
  missing=$(while read -r o; do grep -q -- "$o" "$T/page" || echo "$o"; done <"$T/options")
  [ -z "$missing" ] && pass || fail "numa-trace-$s(1) lacks options: $missing"
done
LC_ALL=C.UTF-8 MANWIDTH=1000 man -l "$MANDIR/numa-trace.1" 2>/dev/null >"$T/page"
for s in $subs; do
  grep -q "numa-trace-$s(1)" "$T/page" && pass || fail "numa-trace(1) does not name numa-trace-$s(1)"
done
LC_ALL=C.UTF-8 man -l "$MANDIR/numa-trace-findings.7" 2>/dev/null >"$T/page"
for c in NT001 NT005 NT015; do grep -q "$c" "$T/page" && pass || fail "numa-trace-findings(7) lacks $c"; done
finish
