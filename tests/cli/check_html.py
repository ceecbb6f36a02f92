"""A report page as headless Chromium left it, against `report --json`.

usage: check_html.py REPORT.json DOM.html CHROMIUM.err SHOT.png
Exit 1 with the problems, one per line.
"""
import html.parser
import json
import struct
import sys
import zlib

report_path, dom_path, err_path, png_path = sys.argv[1:5]
report = json.load(open(report_path))
problems = []


class Dom(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.elements = []  # (tag, attrs)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


dom = Dom()
dom.feed(open(dom_path, encoding="utf-8", errors="replace").read())


def having(cls, **want):
    return [a for t, a in dom.elements
            if cls in a.get("class", "").split() and all(a.get(k) == v for k, v in want.items())]


body = [a for t, a in dom.elements if t == "body"]
if not body:
    problems.append("no <body> in the DOM")
elif body[0].get("data-errors"):
    problems.append(f"script errors in the page: {body[0]['data-errors']}")
for line in open(err_path, errors="replace"):
    if "CONSOLE" in line and ("Uncaught" in line or "Error" in line):
        problems.append(f"console: {line.strip()}")

for m in report["mappings"]:
    rows = having("mapping", **{"data-slot": str(m["slot"]), "data-kind": m["kind"], "data-base": m["base"],
                                "data-length": str(m["length"]), "data-state": m["state"]})
    if len(rows) != 1:
        problems.append(f"mapping slot {m['slot']} {m['kind']} at {m['base']}: {len(rows)} rows in the page")
    for f in m["files"]:
        if not having("mapped-file", **{"data-file-idx": str(f["file_idx"])}):
            problems.append(f"file {f['file_idx']} of mapping slot {m['slot']} not in the page")
for f in report["opened_files"]:
    if not having("file", **{"data-file-idx": str(f["file_idx"]), "data-path": f["path"]}):
        problems.append(f"file {f['file_idx']} {f['path']} not in the page")
for f in report["findings"]:
    if not having("finding", **{"data-code": f["code"], "data-count": str(f["count"])}):
        problems.append(f"finding {f['code']} x{f['count']} not in the page")
if len(having("finding")) != len(report["findings"]):
    problems.append(f"{len(having('finding'))} findings in the page, {len(report['findings'])} in the report")
if "crash" in report and not [a for t, a in dom.elements if a.get("id") == "crash"]:
    problems.append("the crash is not in the page")


def png_pixels(path):
    """Width, height and the set of RGB colours of an 8-bit RGB/RGBA PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", chunk[:10])
            if depth != 8 or ctype not in (2, 6):
                raise ValueError(f"PNG depth {depth} colour type {ctype}")
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + n
    raw, stride, prev, colours = zlib.decompress(idat), w * bpp, bytearray(w * bpp), set()
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if y % 4 == 0:
            for x in range(0, w, 4):
                colours.add(bytes(line[x * bpp:x * bpp + 3]))
        prev = line
    return w, h, colours


try:
    w, h, colours = png_pixels(png_path)
    # Node colours, text and lines: a blank or failed page has one or two.
    if len(colours) < 8:
        problems.append(f"the screenshot ({w}x{h}) has {len(colours)} colours: blank?")
except (OSError, ValueError, zlib.error) as e:
    problems.append(f"the screenshot {png_path}: {e}")

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"{len(report['mappings'])} mappings, {len(report['opened_files'])} files, {len(report['findings'])} findings "
      f"in the page; no script error; screenshot {w}x{h}, {len(colours)} colours")
