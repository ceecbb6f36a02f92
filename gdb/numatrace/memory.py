"""Reading libstdc++ containers without libstdc++'s printers: a unique_ptr
with the default deleter is one pointer wide; a vector is three pointers
(start, finish, end of storage). Members are looked up by name first and by
layout second, so a moved field or another library version degrades to a
clear '<unreadable: ...>' rather than an exception."""

import gdb


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
    if n < 0 or n > 1 << 20:
        raise gdb.error("vector with %d elements" % n)
    return [start[i] for i in range(n)]


def std_string(value):
    """The text of a std::string (SSO or heap)."""
    dp = field(value, "_M_dataplus")
    length = field(value, "_M_string_length")
    if dp is None or length is None:
        return str(value)
    return dp["_M_p"].string(length=int(length))


def pimpl(value):
    """`value.pimpl.get()` dereferenced, or None when empty or absent."""
    p = field(value, "pimpl")
    if p is None:
        return None
    ptr = unique_ptr_get(p)
    return None if int(ptr) == 0 else ptr.dereference()


def hexa(n):
    return "0x%x" % int(n)
