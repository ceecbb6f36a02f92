"""`numa-trace slots`, `numa-trace events [N]`, `numa-trace diagnose`.

The slot table and events come from the flight recorder when the program
has libnumatrace loaded, else from the loader's `mappings` in the selected
frame. `diagnose` hands the facts (the recorder's bytes, or the loader's
state as JSON) to the numa-trace binary, whose rule engine gives the verdict
in the same words as `numa-trace postmortem`."""

import json
import os
import shutil
import subprocess
import tempfile

import gdb

from .memory import ABI_USED, deref, field, hexa, map_values, std_string, unique_ptr_get, vector_items
from .layout import EV_CREATE, EV_FINDING, EV_RESOLVE, EVENTS, KINDS, MAGIC, RING, STATES, VERSION
from .printers import EMPTY, mmap_text, selected_loader


def recorder():
    try:
        v = gdb.parse_and_eval("numatrace_flight_recorder")
    except gdb.error:
        return None
    try:
        if int(v["magic"]) != MAGIC:
            return None
        if int(v["version"]) != VERSION:
            gdb.write("numa-trace: the flight recorder has layout version %d; this extension reads version %d: "
                      "not used\n" % (int(v["version"]), VERSION))
            return None
    except gdb.error:
        return None
    return v


def numa_trace_binary():
    exe = os.environ.get("NUMA_TRACE_BIN") or shutil.which("numa-trace")
    if not exe:
        raise gdb.GdbError("numa-trace: the numa-trace command is not on PATH (or set NUMA_TRACE_BIN)")
    return exe


class Prefix(gdb.Command):
    """numa-trace: mapping slots, recorded events and the verdict on the selected thread.
Subcommands: slots, events [N], diagnose."""

    def __init__(self):
        super().__init__("numa-trace", gdb.COMMAND_DATA, gdb.COMPLETE_NONE, True)


class Slots(gdb.Command):
    """Print the mapping slots: from the flight recorder when libnumatrace is
loaded, else from the llama_model_loader of the selected frame (`this`)."""

    def __init__(self):
        super().__init__("numa-trace slots", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        rec = recorder()
        loader = selected_loader()
        if rec is not None and int(rec["n_mappings"]) > 0:
            n = min(int(rec["n_mappings"]), 128)
            n_files = int(rec["n_files"])
            gdb.write("mapping slots (flight recorder, %d mappings, %d files)\n" % (n, n_files))
            seen = set()
            for i in range(n):
                m = rec["mappings"][i]
                seen.add(int(m["slot"]))
                node = int(m["node"])
                gdb.write("  slot %d: %s %s [%s, +%s)%s, %d extents\n" % (
                    int(m["slot"]), KINDS.get(int(m["kind"]), "?"), STATES.get(int(m["state"]), "?"),
                    hexa(m["base"]), hexa(m["length"]), " node %d" % node if node >= 0 else "", int(m["n_extents"])))
            for s in range(n_files):
                if s not in seen:
                    gdb.write("  slot %d: %s\n" % (s, EMPTY))
            if loader is None:
                return
        if loader is None:
            raise gdb.GdbError("numa-trace slots: no flight recorder in this program and no llama_model_loader "
                               "(`this` or `ml`) in the selected frame; select a loader frame with `frame N`")
        items = vector_items(field(loader, "mappings"))
        gdb.write("mapping slots (llama_model_loader.mappings, %d slots)\n" % len(items))
        for i, up in enumerate(items):
            ptr = unique_ptr_get(up)
            gdb.write("  slot %d: %s\n" % (i, EMPTY if int(ptr) == 0 else mmap_text(ptr.dereference())))


# An event's seq while it is written (NT_FR_SEQ_WRITING in recorder_layout.h).
SEQ_WRITING = (1 << 64) - 1


class Events(gdb.Command):
    """Print the last N events of the flight recorder (default 20)."""

    def __init__(self):
        super().__init__("numa-trace events", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        rec = recorder()
        if rec is None:
            raise gdb.GdbError("numa-trace events: no flight recorder (the program does not have libnumatrace loaded)")
        count = int(arg) if arg.strip() else 20
        head = int(rec["head"])
        # The last `count` events, newest first while collecting. An entry
        # holding an older seq is the unused rest of a thread's block of
        # sequence numbers (docs/recorder.md, write protocol): no event.
        shown = []
        seq = head
        while seq >= 1 and seq + RING > head and len(shown) < count:
            e = rec["ring"][(seq - 1) % RING]
            s = int(e["seq"])
            if s == seq:
                shown.append((seq, e))
            elif s == SEQ_WRITING:
                shown.append((seq, None))
            seq -= 1
        for seq, e in reversed(shown):
            if e is None:
                gdb.write("  #%d <being written>\n" % seq)
                continue
            t = int(e["type"])
            line = "  #%d %s tid %d" % (seq, EVENTS[t] if t < len(EVENTS) else "?", int(e["tid"]))
            if int(e["slot"]) >= 0:
                line += " slot %d" % int(e["slot"])
            if int(e["file_idx"]) >= 0:
                line += " file %d" % int(e["file_idx"])
            if t == EV_RESOLVE:
                line += " '%s' offset %s at %s" % (e["name"].string(), hexa(e["a"]), hexa(e["c"]))
            if t == EV_CREATE:
                line += " %s base %s length %s" % (KINDS.get(int(e["d"]) & 0xFF, "?"), hexa(e["a"]), hexa(e["b"]))
            if t == EV_FINDING:
                line += " NT%03d" % int(e["flags"])
            gdb.write(line + "\n")


def stop_facts():
    """Signal, fault address and where, for the selected thread."""
    signal, fault = 0, 0
    try:
        si = gdb.parse_and_eval("$_siginfo")
        signal = int(si["si_signo"])
        try:
            fault = int(si["_sifields"]["_sigfault"]["si_addr"])
        except gdb.error:
            fault = 0
    except gdb.error:
        pass
    # A breakpoint or a step is a stop, not a crash.
    if signal == 5:  # SIGTRAP
        signal, fault = 0, 0
    # Where: for a crash the innermost frame of the program's own code, named
    # as `numa-trace postmortem` names it (demangled, with parameters); for a
    # stop, the frame the user selected.
    where = ""
    try:
        frame = gdb.newest_frame() if signal else gdb.selected_frame()
        while frame is not None:
            fn = frame.function()
            name = fn.print_name if fn is not None else (frame.name() or "")
            if name and not name.startswith("std::") and not name.startswith("__") and "numatrace::rec" not in name:
                where = " in " + name
                break
            frame = frame.older()
    except gdb.error:
        pass
    return signal, fault, where


def frame_weight(frame):
    """(weight, why): `weight` or `w` (llama_tensor_weight) of `frame`, or
    None and why not."""
    weight, why = None, "no `weight` or `w` (llama_tensor_weight) in frame %s" % (frame.name() or "?")
    for name in ("weight", "w"):
        try:
            weight = frame.read_var(name)
            if weight.is_optimized_out:
                weight, why = None, "`%s` in frame %s is optimized out" % (name, frame.name() or "?")
                continue
            break
        except (ValueError, gdb.error, RuntimeError):
            continue
    return weight, why


def tensor_weight(frame, loader):
    """(weight, where) when `frame` has a ggml_tensor* in scope (load_all_data's
    `cur`) whose name the loader's weights_map holds: the weight -flto
    optimizes out is still there. (None, None) otherwise."""
    try:
        block = frame.block()
    except RuntimeError:
        return None, None
    while block is not None:
        for sym in block:
            if not (sym.is_variable or sym.is_argument):
                continue
            t = sym.type.strip_typedefs()
            if t.code != gdb.TYPE_CODE_PTR or t.target().strip_typedefs().tag != "ggml_tensor":
                continue
            try:
                v = sym.value(frame)
                if v.is_optimized_out or int(v) == 0:
                    continue
                name = v.dereference()["name"].string()
                for key, w in map_values(loader["weights_map"]):
                    if std_string(key) == name:
                        return w, "`%s` in %s, its weight from the loader's weights_map" % (sym.name, frame.name())
            except gdb.error:
                continue
        if block.function is not None:
            break
        block = block.superblock
    return None, None


def loader_facts(loader, need_weight=True, weight=None, why=None):
    """The loader's state as numa-trace diagnose --facts wants it; the
    weight from the selected frame unless given; without a readable weight
    (and need_weight False), without "resolve"."""
    frame = gdb.selected_frame()
    if weight is None and why is None:
        weight, why = frame_weight(frame)
    if weight is None and need_weight:
        raise gdb.GdbError("numa-trace diagnose: no `weight` (llama_tensor_weight) in the selected frame; select "
                           "the frame of load_all_data (or the resolve) with `frame N`")
    if weight is not None:
        weight = deref(weight)
    if weight is not None and weight.type.strip_typedefs().code == gdb.TYPE_CODE_PTR:
        weight = weight.dereference()
    files, paths = [], []
    for up in vector_items(field(loader, "files")):
        ptr = unique_ptr_get(up)
        impl = None
        if int(ptr):
            f = ptr.dereference()
            p = field(f, "pimpl")
            impl = unique_ptr_get(p).dereference() if p is not None and int(unique_ptr_get(p)) else f
        files.append(int(field(impl, "size")) if impl is not None and field(impl, "size") is not None else 0)
        fname = field(impl, "fname") if impl is not None else None
        paths.append(std_string(fname) if fname is not None else "")
    # Each live slot's object, base and length; numa-trace's judge infers
    # the kind (unified: slot 0 live, slot 1 empty, slot 0 as large as all
    # the files) and the extents itself, as for the native reader.
    mappings = []
    items = vector_items(field(loader, "mappings"))
    for i, up in enumerate(items):
        ptr = unique_ptr_get(up)
        if int(ptr) == 0:
            continue
        m = ptr.dereference()
        p = field(m, "pimpl")
        impl = unique_ptr_get(p).dereference() if p is not None else m
        mappings.append({"slot": i, "object": int(ptr),
                         "base": int(impl["addr"].cast(gdb.lookup_type("unsigned long"))),
                         "length": int(impl["size"])})
    if weight is None:
        return {"files": [{"size": size, "path": path} for size, path in zip(files, paths)],
                "n_mappings": len(items), "mappings": mappings, "tid": gdb.selected_thread().ptid[1],
                "weight_why": why, "abi_layouts": list(ABI_USED)}
    idx = int(weight["idx"])
    tensor = field(weight, "tensor")
    name = "?"
    if tensor is not None and int(tensor):
        n = field(tensor.dereference(), "name")
        name = n.string() if n is not None else "?"
    size = 0
    if tensor is not None and int(tensor):
        nb = field(tensor.dereference(), "nbytes")
        size = int(nb) if nb is not None else 0
    return {"files": [{"size": size, "path": path} for size, path in zip(files, paths)],
            "n_mappings": len(items), "mappings": mappings, "tid": gdb.selected_thread().ptid[1],
            "resolve": {"file_idx": idx, "offset": int(weight["offs"]), "size": size, "tensor": name},
            "abi_layouts": list(ABI_USED)}


class Diagnose(gdb.Command):
    """The verdict for the selected thread and frame: which slot the current
weight resolves through and why it is empty, from numa-trace's rule engine
(the same words as `numa-trace postmortem`). Uses the flight recorder when
libnumatrace is loaded, else the loader's `mappings`, `files` and `weight`
from the selected frame's debug info."""

    def __init__(self):
        super().__init__("numa-trace diagnose", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        del ABI_USED[:]  # what this command reads, not what an earlier one did
        exe = numa_trace_binary()
        signal, fault, where = stop_facts()
        tid = gdb.selected_thread().ptid[1]
        stop = ["--signal", str(signal), "--fault-address", str(fault), "--where", where]
        with tempfile.TemporaryDirectory(prefix="numa-trace-gdb-") as d:
            rec = recorder()
            loader = selected_loader()
            if rec is None and loader is None:
                raise gdb.GdbError("numa-trace diagnose: no flight recorder and no llama_model_loader in the "
                                   "selected frame; select the loader's frame with `frame N`")
            out = None
            if rec is not None:
                path = os.path.join(d, "recorder.bin")
                size = int(gdb.parse_and_eval("sizeof(numatrace_flight_recorder)"))
                addr = int(rec.address)
                data = gdb.selected_inferior().read_memory(addr, size)
                with open(path, "wb") as f:
                    f.write(bytes(data))
                out = subprocess.run([exe, "diagnose", "--recorder", path, "--tid", str(tid)] + stop,
                                     capture_output=True, text=True)
            # A recorder that explains nothing (no mapping or resolve of this
            # crash) must not hide the loader of the selected frame.
            if loader is not None and (out is None or out.returncode == 0):
                path = os.path.join(d, "facts.json")
                with open(path, "w") as f:
                    json.dump(loader_facts(loader), f)
                from_loader = subprocess.run([exe, "diagnose", "--facts", path] + stop, capture_output=True,
                                             text=True)
                if out is None or from_loader.returncode == 1:
                    if out is not None:
                        gdb.write("(from the loader's debug info; the flight recorder explains nothing here)\n")
                    out = from_loader
            gdb.write(out.stdout)
            if out.returncode == 2:
                raise gdb.GdbError(out.stderr.strip())


class Facts(gdb.Command):
    """Print, as JSON between marker lines, the loader's state in the first
frame (from the innermost) that has a llama_model_loader and a `weight`:
what `numa-trace postmortem` asks gdb for when a core has no flight
recorder."""

    def __init__(self):
        super().__init__("numa-trace facts", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        del ABI_USED[:]  # what this command reads, not what an earlier one did
        errors = []
        crashed = gdb.selected_thread()

        def frames():
            frame = gdb.newest_frame()
            while frame is not None:
                yield frame
                frame = frame.older()

        # A frame of the crashing thread with the loader and a readable weight.
        for frame in frames():
            try:
                frame.select()
                loader = selected_loader()
                if loader is not None:
                    self.emit(loader_facts(loader, True), frame)
                    return
            except (gdb.error, gdb.GdbError) as e:
                errors.append("%s: %s" % (frame.name(), e))
        # Else the loader from the innermost frame that has it, in the
        # crashing thread or (its frames inlined and optimized out, as -flto
        # leaves load_all_data's `this`) a caller's local in another thread.
        loader = where = None
        for thread in [crashed] + [t for t in gdb.selected_inferior().threads() if t != crashed]:
            thread.switch()
            for frame in frames():
                frame.select()
                try:
                    loader = selected_loader()
                    if loader is not None:
                        loader.fetch_lazy()
                except gdb.error:
                    loader = None
                if loader is not None:
                    fn = frame.function()
                    where = (fn.print_name if fn is not None else (frame.name() or "?"), thread.ptid[1])
                    break
            if loader is not None:
                break
        crashed.switch()
        if loader is None:
            gdb.write("NUMA-TRACE-FACTS-NONE %s\n" % ("; ".join(errors) or "no frame has a llama_model_loader"))
            return
        # The weight from the crashing thread: `weight` in any frame, else a
        # tensor in scope looked up in the loader's weights_map.
        weight = why = weight_from = None
        for frame in frames():
            w, y = frame_weight(frame)
            why = why or y
            if w is not None:
                weight, weight_from = w, "`weight` in %s" % frame.name()
                break
        if weight is None:
            for frame in frames():
                weight, weight_from = tensor_weight(frame, loader)
                if weight is not None:
                    break
        gdb.newest_frame().select()
        try:
            facts = loader_facts(loader, False, weight, why if weight is None else None)
        except (gdb.error, gdb.GdbError) as e:
            gdb.write("NUMA-TRACE-FACTS-NONE %s: %s\n" % (where[0], e))
            return
        if weight_from:
            facts["weight_from"] = weight_from
        facts["loader_tid"] = where[1]
        facts["loader_from"] = "frame %s of thread %d" % where
        facts["loader"] = int(loader.address) if loader.address is not None else 0
        self.emit(facts, None, where[0])

    @staticmethod
    def emit(facts, frame, name=None):
        if frame is not None:
            fn = frame.function()
            name = fn.print_name if fn is not None else (frame.name() or "?")
        facts["frame"] = name
        gdb.write("NUMA-TRACE-FACTS-BEGIN\n%s\nNUMA-TRACE-FACTS-END\n" % json.dumps(facts))


def register():
    Prefix()
    Facts()
    Slots()
    Events()
    Diagnose()
