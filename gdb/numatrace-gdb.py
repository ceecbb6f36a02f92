# Load numa-trace's gdb extension by hand:  (gdb) source /path/to/numatrace-gdb.py
# (installed: /usr/share/numa-trace/gdb/numatrace-gdb.py). See docs/gdb.md.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numatrace  # noqa: E402

numatrace.register()
