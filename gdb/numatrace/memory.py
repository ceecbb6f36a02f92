"""Reading libstdc++ containers without libstdc++'s printers: a unique_ptr
with the default deleter is one pointer wide; a vector is three pointers
(start, finish, end of storage). Members are looked up by name first and by
layout second, so a moved field or another library version degrades to a
clear '<unreadable: ...>' rather than an exception. The bounds are the
native reader's (lib/postmortem/src/dwarf_types.cpp): a loader's vector
holds at most MAX_ITEMS elements, a path at most MAX_STRING bytes, a
weights map at most MAX_MAP_NODES entries; anything larger is corrupt."""

import gdb

MAX_ITEMS = 4096
MAX_STRING = 4096
MAX_MAP_NODES = 1 << 20


def deref(value):
    """A reference's referent (gdb hands printers references as they are)."""
    if value.type.strip_typedefs().code in (gdb.TYPE_CODE_REF, gdb.TYPE_CODE_RVALUE_REF):
        return value.referenced_value()
    return value


def field(value, *names):
    """The first of `names` that the value has, else None."""
    value = deref(value)
    t = value.type.strip_typedefs()
    for name in names:
        try:
            if any(f.name == name for f in t.fields()):
                return value[name]
        except (gdb.error, TypeError):
            pass
    return None


def unique_ptr_get(value):
    """The raw pointer held by a std::unique_ptr<T> (0 for an empty one)."""
    t = value.type.strip_typedefs()
    target = t.template_argument(0)
    return value.address.cast(target.pointer().pointer()).dereference()


def vector_items(value):
    """The elements of a std::vector, read from its begin/end pointers."""
    t = value.type.strip_typedefs()
    elem = t.template_argument(0)
    impl = field(value, "_M_impl")
    if impl is not None and field(impl, "_M_start") is not None:
        start, finish = impl["_M_start"], impl["_M_finish"]
    else:  # layout fallback: first two pointers of the object
        ptrs = value.address.cast(elem.pointer().pointer())
        start, finish = ptrs[0], ptrs[1]
    n = int(finish - start)
    if n < 0 or n > MAX_ITEMS:
        raise gdb.error("vector with %d elements" % n)
    return [start[i] for i in range(n)]


# libstdc++ types read by their ABI layout because the debug info left them
# incomplete (see std_string); the facts say which.
ABI_USED = []


def std_string(value):
    """The text of a std::string (SSO or heap). Where the debug info only
    declares its parts (clang defines basic_string but not _Alloc_hider in
    C++17 units, libstdc++ instantiating the string itself), libstdc++'s C++11
    ABI layout: the char pointer at 0, the length at 8."""
    value = deref(value)
    try:
        length = int(value["_M_string_length"])
        if length > MAX_STRING:
            raise ValueError("a string of %d bytes" % length)
        return value["_M_dataplus"]["_M_p"].string(length=length)
    except ValueError as e:
        raise gdb.error(str(e))
    except gdb.error:
        pass
    name = str(value.type.strip_typedefs())
    if name not in ABI_USED:
        ABI_USED.append(name)
    words = value.address.cast(gdb.lookup_type("unsigned long").pointer())
    length = int(words[1])
    if length > MAX_STRING:
        raise gdb.error("a string of %d bytes" % length)
    return words[0].cast(gdb.lookup_type("char").pointer()).string(length=length)


def map_values(value, limit=MAX_MAP_NODES):
    """(key, value) of each node of a std::map, read from its red-black tree
    (libstdc++'s _Rb_tree: the header's parent is the root; each node a
    32-byte _Rb_tree_node_base, then the key/value pair)."""
    value = deref(value)
    t = value.type.strip_typedefs()
    key_t, val_t = t.template_argument(0), t.template_argument(1)
    header = value["_M_t"]["_M_impl"]["_M_header"]
    count = int(value["_M_t"]["_M_impl"]["_M_node_count"])
    if count > limit:
        raise gdb.error("a map of %d entries" % count)
    val_off = 32 + (key_t.sizeof + val_t.alignof - 1) // val_t.alignof * val_t.alignof
    todo, seen = [int(header["_M_parent"])], 0
    char_p = gdb.lookup_type("char").pointer()
    words_t = gdb.lookup_type("unsigned long").pointer()
    while todo and seen <= count:
        node = todo.pop()
        if not node:
            continue
        seen += 1
        base = gdb.Value(node).cast(char_p)
        yield ((base + 32).cast(key_t.pointer()).dereference(), (base + val_off).cast(val_t.pointer()).dereference())
        words = base.cast(words_t)
        todo += [int(words[2]), int(words[3])]


def pimpl(value):
    """`value.pimpl.get()` dereferenced, or None when empty or absent."""
    p = field(value, "pimpl")
    if p is None:
        return None
    ptr = unique_ptr_get(p)
    return None if int(ptr) == 0 else ptr.dereference()


def hexa(n):
    return "0x%x" % int(n)
