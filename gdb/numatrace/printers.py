"""Pretty-printers: the real loader's types (by the names and members of
upstream llama.cpp, docs/llama-loader.md) and numa-trace's flight recorder."""

import gdb

from .layout import EVENTS, KINDS, MAGIC, STATES, VERSION  # noqa: F401 (EVENTS, KINDS, STATES: for commands)
from .memory import deref, field, hexa, pimpl, std_string, unique_ptr_get, vector_items

EMPTY = "<empty slot>"


def mmap_text(m):
    """llama_mmap: its range and fragments (pimpl or, older, direct fields)."""
    impl = pimpl(m)
    src = impl if impl is not None else m
    addr, size = field(src, "addr"), field(src, "size")
    if addr is None or size is None:
        return "llama_mmap <unreadable: no addr/size>"
    text = "llama_mmap [%s, +%s)" % (hexa(addr.cast(gdb.lookup_type("unsigned long"))), hexa(size))
    frags = field(src, "mapped_fragments")
    if frags is not None:
        try:
            parts = ["(%s, %s)" % (hexa(f["first"]), hexa(f["second"])) for f in vector_items(frags)]
            text += " fragments " + (" ".join(parts) if parts else "none")
        except gdb.error as e:
            text += " fragments <unreadable: %s>" % e
    return text


def slots_text(vec, describe):
    """A vector of unique_ptr: '[i] = <thing>' per slot, or the empty slot."""
    try:
        items = vector_items(vec)
    except gdb.error as e:
        return "<unreadable: %s>" % e
    out = []
    for i, up in enumerate(items):
        ptr = unique_ptr_get(up)
        out.append("[%d] = %s" % (i, EMPTY if int(ptr) == 0 else describe(ptr.dereference())))
    return "{%s}" % ", ".join(out) if out else "{}"


class MmapPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        return mmap_text(self.val)


class MappingsPrinter:
    """std::vector<std::unique_ptr<llama_mmap>>: each slot its range, or empty."""

    def __init__(self, val):
        self.val = val

    def to_string(self):
        try:
            n = len(vector_items(self.val))
        except gdb.error:
            n = "?"
        return "%s slots %s" % (n, slots_text(self.val, mmap_text))


def file_text(f):
    impl = pimpl(f)
    src = impl if impl is not None else f
    parts = []
    name = field(src, "fname")
    if name is not None:
        parts.append('"%s"' % std_string(name))
    size = field(src, "size")
    if size is not None:
        parts.append("size %d" % int(size))
    fd = field(src, "fd")
    if fd is not None:
        parts.append("fd %d" % int(fd))
    fp = field(src, "fp")
    if fp is not None and name is None:
        parts.append("fp %s" % hexa(fp.cast(gdb.lookup_type("unsigned long"))))
    return "llama_file " + (", ".join(parts) if parts else "<no known fields>")


class FilePrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        return file_text(self.val)


class FilesPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        return slots_text(self.val, file_text)


class MlockPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        impl = pimpl(self.val)
        src = impl if impl is not None else self.val
        addr, size = field(src, "addr"), field(src, "size")
        failed = field(src, "failed_already")
        if addr is None:
            return "llama_mlock <unreadable>"
        text = "llama_mlock %s locked %s" % (hexa(addr.cast(gdb.lookup_type("unsigned long"))), hexa(size))
        if failed is not None and bool(failed):
            text += " (mlock failed)"
        return text


class MlocksPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        return slots_text(self.val, lambda l: MlockPrinter(l).to_string())


def tensor_name(ptr):
    if int(ptr) == 0:
        return None
    t = ptr.dereference()
    name = field(t, "name")
    return name.string() if name is not None else None


def selected_loader():
    """`this` (or `ml`) of the selected frame, when it is a llama_model_loader."""
    try:
        frame = gdb.selected_frame()
        for name in ("this", "ml", "loader"):
            try:
                v = frame.read_var(name)
            except (ValueError, gdb.error):
                continue
            v = deref(v)
            t = v.type.strip_typedefs()
            if t.code == gdb.TYPE_CODE_PTR:
                if int(v) == 0:
                    continue
                v = v.dereference()
                t = v.type.strip_typedefs()
            if t.tag and t.tag.endswith("llama_model_loader"):
                return v
            # A wrapper that holds the loader (a member of its type).
            if t.code == gdb.TYPE_CODE_STRUCT:
                for f in t.fields():
                    ft = f.type.strip_typedefs()
                    if ft.tag and ft.tag.endswith("llama_model_loader") and f.name:
                        return v[f.name]
    except gdb.error:
        pass
    return None


class TensorWeightPrinter:
    """llama_tensor_weight: file idx, offset, tensor name, size; and whether
    the slot it resolves through is empty (from the loader in the frame)."""

    def __init__(self, val):
        self.val = deref(val)

    def to_string(self):
        v = self.val
        idx, offs, tensor = field(v, "idx"), field(v, "offs"), field(v, "tensor")
        if idx is None or offs is None:
            return "llama_tensor_weight <unreadable>"
        text = "file idx %d, offs %s" % (int(idx), hexa(offs))
        if tensor is not None:
            name = tensor_name(tensor)
            text += ", tensor '%s'" % name if name is not None else ", tensor <null>"
            if int(tensor):
                nbytes = field(tensor.dereference(), "nbytes")
                if nbytes is not None:
                    text += ", size %d" % int(nbytes)
        loader = selected_loader()
        if loader is not None:
            mappings = field(loader, "mappings")
            try:
                items = vector_items(mappings)
                if int(idx) >= len(items) or int(unique_ptr_get(items[int(idx)])) == 0:
                    text += " (its slot %d is empty)" % int(idx)
            except gdb.error:
                pass
        return text


class LoaderPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        v = self.val
        parts = []
        for name in ("n_kv", "n_tensors", "n_elements", "n_bytes", "use_mmap"):
            f = field(v, name)
            if f is not None:
                parts.append("%s=%s" % (name, f))
        files = field(v, "files")
        if files is not None:
            parts.append("files=" + slots_text(files, file_text))
        mappings = field(v, "mappings")
        if mappings is not None:
            parts.append("mappings=" + slots_text(mappings, mmap_text))
        return "llama_model_loader {%s}" % ", ".join(parts)




class RecorderPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        v = self.val
        if int(v["magic"]) != MAGIC:
            return "nt_flight_recorder <bad magic %s>" % hexa(v["magic"])
        if int(v["version"]) != VERSION:
            return "nt_flight_recorder <version %d; this extension reads version %d>" % (int(v["version"]), VERSION)
        c = v["counters"]
        text = "nt_flight_recorder v%d pid %d: %d events, %d mappings, %d findings, %d dropped by sinks" % (
            int(v["version"]), int(v["pid"]), int(v["head"]), int(v["n_mappings"]), int(c["findings"]),
            int(c["dropped_sink"]))
        if int(v["crash"]["signal"]):
            text += ", crashed with signal %d at %s" % (int(v["crash"]["signal"]), hexa(v["crash"]["fault_address"]))
        return text


class MappingRecordPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        v = self.val
        node = int(v["node"])
        return "slot %d %s %s [%s, +%s)%s, %d extents" % (
            int(v["slot"]), KINDS.get(int(v["kind"]), "?"), STATES.get(int(v["state"]), "?"), hexa(v["base"]),
            hexa(v["length"]), " node %d" % node if node >= 0 else "", int(v["n_extents"]))


class EventPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        v = self.val
        t = int(v["type"])
        text = "#%d %s tid %d" % (int(v["seq"]), EVENTS[t] if t < len(EVENTS) else "?", int(v["tid"]))
        if int(v["slot"]) >= 0:
            text += " slot %d" % int(v["slot"])
        if int(v["file_idx"]) >= 0:
            text += " file %d" % int(v["file_idx"])
        if t == 6:
            text += " '%s' offset %s" % (v["name"].string(), hexa(v["a"]))
        return text


class FindingPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        v = self.val
        text = "NT%03d slot %d file %d offset %s" % (int(v["code"]), int(v["slot"]), int(v["file_idx"]), hexa(v["offset"]))
        name = v["name"].string()
        return text + (" tensor '%s'" % name if name else "")


def _build():
    pp = gdb.printing.RegexpCollectionPrettyPrinter("numatrace")
    vec = r"^std::(__\d+::)?vector<std::(__\d+::)?unique_ptr<%s"
    pp.add_printer("mappings", vec % r"llama_mmap\b", MappingsPrinter)
    pp.add_printer("files", vec % r"llama_file\b", FilesPrinter)
    pp.add_printer("mlocks", vec % r"llama_mlock\b", MlocksPrinter)
    pp.add_printer("llama_mmap", r"^llama_mmap$", MmapPrinter)
    pp.add_printer("llama_file", r"^llama_file$", FilePrinter)
    pp.add_printer("llama_mlock", r"^llama_mlock$", MlockPrinter)
    pp.add_printer("llama_tensor_weight", r"^(llama_model_loader::)?llama_tensor_weight$", TensorWeightPrinter)
    pp.add_printer("llama_model_loader", r"^llama_model_loader$", LoaderPrinter)
    pp.add_printer("nt_flight_recorder", r"^nt_flight_recorder$", RecorderPrinter)
    pp.add_printer("nt_fr_mapping", r"^nt_fr_mapping$", MappingRecordPrinter)
    pp.add_printer("nt_fr_event", r"^nt_fr_event$", EventPrinter)
    pp.add_printer("nt_fr_finding", r"^nt_fr_finding$", FindingPrinter)
    return pp


PRINTER = None


def _first(objfile):
    """Puts our lookup first in an objfile's list, so that libstdc++'s own
    vector printer (which would show 'get() = 0x0') does not win."""
    if PRINTER not in objfile.pretty_printers:
        objfile.pretty_printers.insert(0, PRINTER)


def register(objfile=None):
    global PRINTER
    import gdb.printing  # noqa: F401  (makes gdb.printing available)
    if PRINTER is None:
        PRINTER = _build()
        gdb.events.new_objfile.connect(lambda event: _first(event.new_objfile))
    for o in gdb.objfiles():
        _first(o)
    # The flight recorder is about 700 KiB; gdb's default max-value-size
    # (64 KiB) would refuse `print numatrace_flight_recorder`.
    try:
        if int(gdb.parameter("max-value-size") or 0) < (1 << 21):
            gdb.execute("set max-value-size %d" % (1 << 21))
    except (gdb.error, TypeError, ValueError):
        pass
