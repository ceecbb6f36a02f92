#!/usr/bin/env bash
# The coexistence matrix: numa-trace beside the things a traced program
# meets (its own SIGSEGV handler, fork, _exit, exec, a closed stderr, a full
# disk, RLIMIT_FSIZE, no journald, gcc and clang ASan, valgrind, setuid).
# In each, the program behaves exactly as without numa-trace (exit status,
# stdout) and every event is in the trace (complete, summary written) or
# the failure is said. Never sanitized itself: it loads libnumatrace.
NT=$1 LOADER=$2 SUBJECT=$3 SUBJECT_GCC_ASAN=$4
HERE=$(dirname "$0")
. "$HERE/../cli/lib.sh"
CLOSED="python3 $HERE/closed_stderr.py"
cd "$T" || exit 1
"$NT" gen-model "$T/m" --splits 3 --size 3M >/dev/null || exit 1
M=$T/m-00001-of-00003.gguf

# same_as_plain NAME TRACE CMD...: CMD alone, then under numa-trace run -o
# TRACE; exit status and stdout must match.
same_as_plain() {
  local name=$1 trace=$2; shift 2
  "$@" >"$T/plain.out" 2>"$T/plain.err"
  local want=$?
  rm -f "$trace" "$trace".*
  run "$NT" run -o "$trace" -- "$@"
  expect_rc "$want" -- "$name: exit status as without numa-trace"
  cmp -s "$T/out" "$T/plain.out" && pass || fail "$name: stdout differs: $(diff "$T/plain.out" "$T/out" | head -5)"
}
# trace_has TRACE MIN_CREATES: the trace is complete (summary record) and
# holds at least MIN_CREATES mapping creates.
trace_has() {
  "$NT" report --json "$1" >"$T/r.json" 2>/dev/null
  python3 - "$T/r.json" "$2" <<'PY' && pass || fail "trace $1: $(head -c 300 "$T/r.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["complete"], "no summary record: events were lost at the end"
assert len(j["mappings"]) >= int(sys.argv[2]), f'{len(j["mappings"])} mappings'
PY
}

# _exit: the ring reaches the trace before the image is gone.
same_as_plain "_exit" "$T/exit.nttrace" "$SUBJECT" map "$M" 3 _exit
trace_has "$T/exit.nttrace" 3

# exec: each image gets its own complete trace, PATH then PATH.1.
same_as_plain "exec" "$T/exec.nttrace" "$SUBJECT" map "$M" 3 exec
trace_has "$T/exec.nttrace" 3
trace_has "$T/exec.nttrace.1" 3
expect_grep "$T/err" "2 traced processes or images .*: .*exec.nttrace to .*exec.nttrace.1" "run names both traces"

# fork in the middle of a load: the parent's trace is whole, and the child,
# which maps splits 1 and 2, has its own beside it.
same_as_plain "fork" "$T/fork.nttrace" "$SUBJECT" fork "$M" 3
trace_has "$T/fork.nttrace" 3
trace_has "$T/fork.nttrace.1" 2
[ "$(od -An -tu4 -j24 -N4 "$T/fork.nttrace.1" | tr -d ' ')" != "$(od -An -tu4 -j24 -N4 "$T/fork.nttrace" | tr -d ' ')" ] &&
  pass || fail "fork: the child's trace has the parent's pid"

# A script that runs the loader twice: the shell records nothing and writes
# no trace; each loader writes a complete one (PATH, PATH.1).
rm -f "$T"/script.nttrace*
run "$NT" run -o "$T/script.nttrace" -- sh -c '"$0" map "$1" 3 return; "$0" map "$1" 3 return' "$SUBJECT" "$M"
expect_rc 0 -- "a script running the loader twice"
trace_has "$T/script.nttrace" 3
trace_has "$T/script.nttrace.1" 3
[ ! -e "$T/script.nttrace.2" ] && pass || fail "the shell wrote a trace of its own"

# The program's own SIGSEGV handler, installed before libnumatrace's (from
# .preinit_array) and after it, repairs the fault: no crash is said or
# recorded, the report finds nothing.
for when in before after; do
  same_as_plain "SIGSEGV handler $when ours" "$T/segv-$when.nttrace" "$SUBJECT" segv "$when" "$M" 3
  if grep -q "SIGSEGV" "$T/err"; then fail "a recovered SIGSEGV ($when) was said: $(grep SIGSEGV "$T/err")"; else pass; fi
  # The report has no crash (its mappings, never unmapped, are NT007).
  "$NT" report --json "$T/segv-$when.nttrace" >"$T/segv.json"
  python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); assert "crash" not in j and j["complete"], j.get("crash")' \
    "$T/segv.json" && pass || fail "report of a recovered SIGSEGV ($when) shows a crash: $(head -c 300 "$T/segv.json")"
  # Without a model it records nothing: no trace, and that is said.
  same_as_plain "SIGSEGV handler $when ours, no model" "$T/segv0-$when.nttrace" "$SUBJECT" segv "$when"
  expect_grep "$T/err" "no trace was written to .*segv0-$when.nttrace \(the program mapped and read no GGUF split" \
    "a program without events: no trace, and that is said"
done

# A closed stderr: finding lines fail with EPIPE, not SIGPIPE (exit 141).
"$LOADER" "$T/m" --strategy unified --fault offset-drift --threads 2 -q >/dev/null 2>&1
want=$?
for i in 1 2 3; do
  rm -f "$T/closed.nttrace"
  $CLOSED "$NT" run -o "$T/closed.nttrace" -- "$LOADER" "$T/m" --strategy unified --fault offset-drift --threads 2 -q \
    >/dev/null
  RC=$?
  expect_rc "$want" -- "closed stderr, run $i"
done
$CLOSED env NUMA_TRACE=file:"$T/closed-pre.nttrace" LD_PRELOAD="$(dirname "$LOADER")/../lib/libnumatrace.so" \
  "$LOADER" "$T/m" --strategy unified --fault offset-drift --threads 2 -q >/dev/null
RC=$?
expect_rc "$want" -- "closed stderr, libnumatrace preloaded directly"

# RLIMIT_FSIZE below the trace's size: the sink stops and says so, the
# program (which writes nothing) is not killed by SIGXFSZ.
rm -f "$T/fsize.nttrace"
run bash -c "ulimit -f 2; exec '$NT' run -o '$T/fsize.nttrace' -- '$LOADER' '$T/m' --strategy per-file --threads 2 -q"
expect_rc 0 -- "RLIMIT_FSIZE: the program's exit status"
expect_grep "$T/err" "trace sink file:.*File too large" "RLIMIT_FSIZE: the sink's failure is said"

# A full disk (a one-page tmpfs; root mounts it, the trap unmounts it).
if [ "$(id -u)" = 0 ] && mkdir "$T/small" && mount -t tmpfs -o size=4k nt-full "$T/small"; then
  trap 'umount "$T/small" 2>/dev/null; cleanup_work' EXIT
  run "$NT" run -o "$T/small/full.nttrace" -- "$LOADER" "$T/m" --strategy per-file --threads 2 -q
  expect_rc 0 -- "full disk: the program's exit status"
  expect_grep "$T/err" "trace sink file:.*No space left on device" "full disk: the sink's failure is said"
  umount "$T/small"
else
  echo "note: not root, the full-disk case is not checked"
fi

# No journald: the journal sink says it is off (libsystemd would drop every
# entry without a word). A running journald is hidden in a private mount
# namespace, not stopped.
nojournal() {
  NUMA_TRACE=journal LD_PRELOAD="$(dirname "$LOADER")/../lib/libnumatrace.so" "$LOADER" "$T/m" --threads 1 -q
}
checked_nojournal=1
if [ -S /run/systemd/journal/socket ]; then
  if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
    export -f nojournal; export T LOADER
    run unshare -m bash -c 'mount -t tmpfs none /run/systemd/journal && nojournal'
  else
    echo "note: a journald runs and it cannot be hidden here (not root); the no-journald case is not checked"
    checked_nojournal=0
  fi
else
  run nojournal
fi
if [ "$checked_nojournal" = 1 ]; then
  expect_rc 0 -- "no journald: the program's exit status"
  expect_grep "$T/err" "trace sink journal: no systemd-journald is running" "no journald: said"
fi

# ASan, gcc (libasan.so, which must come first: run puts it there) and
# clang (runtime in the program, initialized from .preinit_array): traced,
# and ASan still reports the overflow with its own exit status.
asan_case() {
  local name=$1 prog=$2
  same_as_plain "$name ASan" "$T/$name.nttrace" "$prog" map "$M" 3 overflow
  expect_grep "$T/err" "ERROR: AddressSanitizer: heap-buffer-overflow" "$name ASan still reports"
  trace_has "$T/$name.nttrace" 3
}
asan_case gcc "$SUBJECT_GCC_ASAN"
if command -v clang >/dev/null; then
  clang -fsanitize=address -g -O0 -o "$T/subject-clang-asan" "$HERE/subject.c" || fail "clang ASan build"
  asan_case clang "$T/subject-clang-asan"
else
  fail "clang is not installed (tools/quickstart installs it): the clang ASan case cannot run"
fi

# valgrind memcheck of the reference loader with libnumatrace loaded: no
# error (exit 9 would say one), the same output, and the loader's image
# (the last of valgrind's exec chain) traced with every resolve.
if command -v valgrind >/dev/null; then
  "$LOADER" "$T/m" --strategy per-file --threads 2 >"$T/plain.out" 2>&1
  rm -f "$T"/vg.nttrace*
  run "$NT" run -o "$T/vg.nttrace" -- valgrind -q --error-exitcode=9 "$LOADER" "$T/m" --strategy per-file --threads 2
  expect_rc 0 -- "valgrind memcheck: no error"
  sed 's/ in [0-9.]* ms//' "$T/out" >"$T/vg.out"; sed 's/ in [0-9.]* ms//' "$T/plain.out" >"$T/plain.cmp"
  cmp -s "$T/vg.out" "$T/plain.cmp" && pass || fail "valgrind: output differs: $(diff "$T/plain.cmp" "$T/vg.out")"
  last=$(ls "$T"/vg.nttrace* | sort -V | tail -1)
  trace_has "$last" 3
else
  fail "valgrind is not installed (tools/quickstart installs it)"
fi

# setuid to another user: the dynamic loader drops LD_PRELOAD; run says so
# before and after, instead of a bare 'No such file'.
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
  cp "$SUBJECT" "$T/suid" && chown nobody "$T/suid" && chmod 4755 "$T/suid"
  run "$NT" run -o "$T/suid.nttrace" -- "$T/suid" segv after
  expect_rc 0 -- "setuid program runs"
  expect_grep "$T/err" "suid setuid: the dynamic loader ignores LD_PRELOAD for it \(AT_SECURE\)" "setuid is said first"
  expect_grep "$T/err" "no trace was written to .*suid.nttrace \(the program setuid: LD_PRELOAD was ignored\)" \
    "and why there is no trace"
else
  echo "note: not root, the setuid case is not checked"
fi
finish
