"""numa-trace's gdb extension: pretty-printers for the loader's mapping types
and for numa-trace's own, and the `numa-trace` commands (slots, events,
diagnose). Reads memory and formats; the rules live in the numa-trace binary
(`numa-trace diagnose`), so gdb says what `numa-trace postmortem` says.

Load it with `source .../numatrace-gdb.py`, or let gdb auto-load it from
libnumatrace (docs/gdb.md)."""

from . import printers, commands

_registered = False


def register(objfile=None):
    """Registers the printers (ahead of any other objfile's, libstdc++'s
    included) and the commands. Safe to call more than once."""
    global _registered
    printers.register(objfile)
    if not _registered:
        commands.register()
        _registered = True
