#!/usr/bin/env python3
"""^C on a real terminal: runs a command on a new pseudo-terminal as its
foreground process group, waits for "ready" on its output, types ^C once,
and copies what the command printed to OUT.

usage: tty_sigint.py OUT COMMAND...   (exit status: the command's)
"""
import os
import pty
import sys
import time

out_path, cmd = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)

buf = b""
deadline = time.time() + 120
sent = False
while time.time() < deadline:
    try:
        chunk = os.read(fd, 4096)
    except OSError:  # EIO: the terminal's other side closed
        break
    if not chunk:
        break
    buf += chunk
    if not sent and b"ready" in buf:
        os.write(fd, b"\x03")  # the line discipline sends SIGINT to the foreground group
        sent = True
if not sent:
    os.kill(pid, 9)
_, status = os.waitpid(pid, 0)
open(out_path, "wb").write(buf.replace(b"\r\n", b"\n"))
if not sent:
    print("the command never printed 'ready'")
    sys.exit(3)
sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
