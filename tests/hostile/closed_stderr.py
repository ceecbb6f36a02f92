#!/usr/bin/env python3
"""closed_stderr.py CMD...: runs CMD with its stderr a pipe whose reading end
is already closed (every write to it fails with EPIPE, and raises SIGPIPE
unless ignored), stdout inherited. Exits with CMD's status, 128+N when it
died of signal N, as a shell would report it."""
import os
import subprocess
import sys

r, w = os.pipe()
os.close(r)
p = subprocess.run(sys.argv[1:], stderr=w, stdin=subprocess.DEVNULL)
os.close(w)
sys.exit(p.returncode if p.returncode >= 0 else 128 - p.returncode)
