# Helpers for the CLI tests: a work folder removed on exit (kept, and
# named, when a check failed), and checks that print what went wrong and
# count failures.
set -u
T=$(mktemp -d "${TMPDIR:-/tmp}/nt-cli-XXXXXX")
FAILED=0
PASSED=0
# The exit traps call this instead of removing $T outright.
cleanup_work() {
  if [ "$FAILED" != 0 ] && [ -d "$T" ]; then
    echo "kept the work folder of the failing checks: $T" >&2
  else
    rm -rf "$T"
  fi
}
trap cleanup_work EXIT
fail() { echo "FAIL: $*" >&2; FAILED=$((FAILED + 1)); }
pass() { PASSED=$((PASSED + 1)); }
# run CMD...: runs, captures stdout/stderr in $T/out $T/err, sets RC.
run() { "$@" >"$T/out" 2>"$T/err"; RC=$?; }
expect_rc() {  # expect_rc WANT... -- description
  local want=() d
  while [ "$1" != "--" ]; do want+=("$1"); shift; done
  shift; d="$*"
  for w in "${want[@]}"; do [ "$RC" = "$w" ] && { pass; return 0; }; done
  fail "$d: exit $RC, expected ${want[*]}; stderr: $(head -c 400 "$T/err")"
  return 1
}
expect_grep() {  # expect_grep FILE PATTERN description
  if grep -qE -- "$2" "$1"; then pass; else fail "$3: /$2/ not in $(head -c 400 "$1")"; fi
}
finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" = 0 ]
}

# file_cores: make the kernel write cores as files in the current
# directory for this test. If core_pattern pipes to a handler
# (systemd-coredump, apport) or names another directory, root switches it
# to 'core.%p' and the EXIT trap puts it back, also on failure; without root
# that cannot be done and the test skips (77) saying why.
CORE_PATTERN_FILE=/proc/sys/kernel/core_pattern
file_cores() {
  OLD_CORE_PATTERN=$(cat "$CORE_PATTERN_FILE")
  case $OLD_CORE_PATTERN in
    "|"*|/*)
      if [ -w "$CORE_PATTERN_FILE" ]; then
        echo "core_pattern is '$OLD_CORE_PATTERN'; using 'core.%p' for this test"
        printf 'core.%%p' >"$CORE_PATTERN_FILE" || exit 1
        trap 'printf "%s" "$OLD_CORE_PATTERN" >"$CORE_PATTERN_FILE"; cleanup_work' EXIT
      else
        echo "SKIP: core_pattern '$OLD_CORE_PATTERN' sends cores elsewhere and is not writable (not root)"
        exit 77
      fi ;;
  esac
}
# newest_core DIR: the most recent core file written in DIR.
newest_core() { ls -t "$1"/core* 2>/dev/null | head -1; }

# start_journald: a real systemd-journald, started standalone (root, no
# systemd as PID 1 needed) when none runs; `stop_started_daemons` stops what
# was started. Skips (77) when it cannot be started, saying why.
# JOURNAL_SINCE ("@SECONDS", for journalctl --since) is when it was called:
# process ids are reused and the journal keeps older runs, so a test's
# queries by pid look only at entries from then on.
STARTED_PIDS=()
journald_answers() {  # journald_answers TRIES: a message sent now can be read back
  local probe="numa-trace-test-probe-$$-$RANDOM"
  for _ in $(seq "$1"); do
    echo "$probe" | systemd-cat -t numa-trace-probe 2>/dev/null
    journalctl -t numa-trace-probe --no-pager 2>/dev/null | grep -q "$probe" && return 0
    sleep 0.1
  done
  return 1
}
start_journald() {
  JOURNAL_SINCE="@$(date +%s)"
  # One that runs (not one that is stopping, or a zombie) answers.
  if pgrep -x systemd-journal >/dev/null || pgrep -f "^/lib/systemd/systemd-journald" >/dev/null; then
    journald_answers 20 && return 0
  fi
  if [ "$(id -u)" != 0 ]; then echo "SKIP: no systemd-journald running and not root to start one"; exit 77; fi
  [ -x /lib/systemd/systemd-journald ] || { echo "SKIP: /lib/systemd/systemd-journald not installed"; exit 77; }
  /lib/systemd/systemd-journald >"$T/journald.log" 2>&1 &
  STARTED_PIDS+=($!)
  # Ready when a message sent now can be read back (a stale socket from an
  # earlier journald may exist before this one binds it).
  journald_answers 100 || { echo "systemd-journald did not start: $(cat "$T/journald.log")"; exit 1; }
  echo "started systemd-journald (pid ${STARTED_PIDS[-1]}) for this test"
}
# deny_move_pages CMD...: CMD run with move_pages(2) failing with EPERM, as
# a container's seccomp profile or a sandbox may refuse it: a seccomp filter
# set (from python3, by prctl) on the process that then execs CMD. The
# filter knows x86_64's syscall numbers only (the machines this project
# targets); elsewhere it refuses nothing, and the checks after it fail.
deny_move_pages() {
  python3 - "$@" <<'PY'
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
LD_ABS, JEQ, RET = 0x20, 0x15, 0x06  # classic BPF: BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, BPF_RET|BPF_K
ARCH_X86_64, NR_MOVE_PAGES = 0xC000003E, 279
RET_EPERM, RET_ALLOW = 0x00050000 | 1, 0x7FFF0000  # SECCOMP_RET_ERRNO | EPERM, SECCOMP_RET_ALLOW
prog = [(LD_ABS, 0, 0, 4),                  # seccomp_data.arch
        (JEQ, 0, 3, ARCH_X86_64),           # another ABI: allow
        (LD_ABS, 0, 0, 0),                  # seccomp_data.nr
        (JEQ, 0, 1, NR_MOVE_PAGES),
        (RET, 0, 0, RET_EPERM),
        (RET, 0, 0, RET_ALLOW)]
code = b"".join(struct.pack("HBBI", *i) for i in prog)
buf = ctypes.create_string_buffer(code)
fprog = struct.pack("HxxxxxxQ", len(prog), ctypes.addressof(buf))
fbuf = ctypes.create_string_buffer(fprog)
if libc.prctl(38, 1, 0, 0, 0) or libc.prctl(22, 2, ctypes.addressof(fbuf), 0, 0):  # NO_NEW_PRIVS, SECCOMP filter
    sys.exit("cannot set the seccomp filter: " + os.strerror(ctypes.get_errno()))
os.execvp(sys.argv[1], sys.argv[1:])
PY
}
# free_port: a TCP port free on 127.0.0.1 now.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_debuginfod DIR FILE: Debian's debuginfod serving DIR on 127.0.0.1
# (port in DEBUGINFOD_PORT; stop_started_daemons stops it), ready once it
# has scanned DIR and serves FILE's build-id. Returns 1 if it does not.
start_debuginfod() {
  DEBUGINFOD_PORT=$(free_port)
  debuginfod -F "$1" -p "$DEBUGINFOD_PORT" -d "$T/debuginfod.sqlite" >"$T/debuginfod.log" 2>&1 &
  STARTED_PIDS+=($!)
  local id
  id=$(readelf -n "$2" | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
  python3 - "$DEBUGINFOD_PORT" "$id" <<'PY'
import sys, time, urllib.request
for _ in range(150):
    try:
        urllib.request.urlopen("http://127.0.0.1:%s/buildid/%s/debuginfo" % (sys.argv[1], sys.argv[2]), timeout=5).read()
        sys.exit(0)
    except Exception:
        time.sleep(0.2)
sys.exit(1)
PY
}
stop_started_daemons() {
  for p in "${STARTED_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  STARTED_PIDS=()
}
