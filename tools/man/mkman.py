#!/usr/bin/env python3
"""Builds numa-trace's man pages from the documentation (pandoc, markdown to man).

usage: mkman.py DOCS COMMAND OUTDIR VERSION

DOCS is the docs/ folder: numa-trace.md gives numa-trace(1) and, one per
"## SUBCOMMAND" section, numa-trace-SUBCOMMAND(1), each with its OPTIONS
taken from the built COMMAND's own `SUBCOMMAND --help` (so the page cannot
miss an option) and its one-line summary from `COMMAND --help`; hooks.md
gives libnumatrace(3); findings.md numa-trace-findings(7). Links to other
documents become man page references or their installed path.
"""
import os
import re
import subprocess
import sys

DOCS, COMMAND, OUT, VERSION = sys.argv[1:5]
SUBCOMMANDS = ["gen-model", "inspect", "check", "run", "report", "placement", "postmortem", "diagnose",
               "journal", "demo"]
DOC_DIR = "/usr/share/doc/numa-trace"  # where the package puts docs/*.md
PAGES = {"numa-trace.md": "numa-trace(1)", "findings.md": "numa-trace-findings(7)", "hooks.md": "libnumatrace(3)"}


def read(name):
    with open(os.path.join(DOCS, name), encoding="utf-8") as f:
        return f.read()


def sections(text):
    """The "## " sections of a markdown page, in order: [(title, body)]."""
    parts = re.split(r"^## +(.+)$", text, flags=re.M)
    return [(parts[i].strip(), parts[i + 1].strip("\n")) for i in range(1, len(parts), 2)]


def links(text):
    """[text](other.md#anchor) -> text (man page, or the document's path)."""
    def one(m):
        label, target = m.group(1), m.group(2)
        if target.startswith("#"):
            return label
        doc = target.split("#")[0]
        if doc in PAGES:
            return f"{label} (see {PAGES[doc]})" if label != PAGES[doc] else label
        if doc.endswith(".md"):
            return f"{label} ({DOC_DIR}/{doc})"
        if doc.endswith(".png"):
            return label
        return f"{label} ({target})"
    return re.sub(r"\[([^\]]+)\]\(([^)]+)\)", one, text)


def demote(text):
    """Every heading one level down: the page's own sections are "#"."""
    return re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", text, flags=re.M)


def cells(row):
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip().strip("|"))]


def tables(text):
    """Pipe tables as definition lists: a terminal page is too narrow for
    most of them, and tbl warns about every wide one."""
    out, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        if lines[i].lstrip().startswith("|") and i + 1 < len(lines) and re.match(r"^\s*\|[-:| ]+\|\s*$", lines[i + 1]):
            head = cells(lines[i])
            i += 2
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                row = cells(lines[i])
                rest = [f"{h}: {c}" if h else c for h, c in zip(head[1:], row[1:]) if c]
                out.append(f"{row[0]}\n:   " + ("; ".join(rest) if len(head) > 2 else (row[1] if len(row) > 1 else "")) + "\n")
                i += 1
            continue
        out.append(lines[i])
        i += 1
    return "\n".join(out)


def help_of(*args):
    return subprocess.run([COMMAND, *args, "--help"], capture_output=True, text=True, check=True).stdout


def summaries():
    out = help_of()
    listed = out.split("Subcommands:\n", 1)[1]
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"^  (\S+) +(.+)$", listed, flags=re.M)}


def options(sub):
    """The OPTIONS of `COMMAND SUB --help` as a markdown definition list."""
    text = help_of(sub)
    items, current = [], None
    for block in ("Positionals:", "Options:"):
        if block not in text:
            continue
        body = text.split(block + "\n", 1)[1].split("\n\n", 1)[0]
        for line in body.splitlines():
            m = re.match(r"^  (\S.*?)(?: {2,}(\S.*))?$", line)
            if m and not line.startswith("   "):
                current = [m.group(1).strip(), m.group(2) or ""]
                items.append(current)
            elif current is not None:
                current[1] = (current[1] + " " + line.strip()).strip()
    md = []
    for name, what in items:
        md.append(f"`{name}`\n:   {escape(what) or '(no description)'}\n")
    return "\n".join(md)


def escape(s):
    return s.replace("*", "\\*").replace("_", "\\_").replace("<", "\\<")


def synopsis_of(sub, synopsis):
    lines, keep = [], False
    for line in synopsis.splitlines():
        if line.startswith("numa-trace "):
            keep = line.startswith(f"numa-trace {sub} ") or (sub == "run" and line.startswith("numa-trace PROGRAM"))
        if keep and line.strip() not in ("```",):
            lines.append(line)
    return "```\n" + "\n".join(lines) + "\n```"


def pandoc(markdown, name, section, title):
    path = os.path.join(OUT, f"{name}.{section}")
    markdown = tables(markdown)
    meta = ["-M", f"title={name.upper()}", "-M", f"section={section}", "-M", f"header={title}",
            "-M", f"footer=numa-trace {VERSION}", "-M", "date="]
    subprocess.run(["pandoc", "-s", "-f", "markdown-smart", "-t", "man", *meta, "-o", path],
                   input=markdown, text=True, check=True)


def main():
    os.makedirs(OUT, exist_ok=True)
    page = read("numa-trace.md")
    parts = dict(sections(page))
    order = [t for t, _ in sections(page)]
    summary = summaries()
    synopsis = parts["SYNOPSIS"]

    # numa-trace(1): the command, its subcommands listed, the shared rules.
    md = [f"# NAME\n{links(parts['NAME'])}\n", f"# SYNOPSIS\n{synopsis}\n", "# DESCRIPTION\n"]
    md.append("numa-trace traces, checks and explains how model loaders map multi-part GGUF files on NUMA "
              "machines. Each subcommand has its own page:\n")
    for sub in SUBCOMMANDS:
        md.append(f"`{sub}`\n:   {escape(summary[sub])}; see numa-trace-{sub}(1).\n")
    for title in order:
        if title in ("NAME", "SYNOPSIS") or title in SUBCOMMANDS or title.startswith("run and"):
            continue
        md.append(f"# {title.upper()}\n{links(parts[title])}\n")
    md.append("# SEE ALSO\n" + ", ".join([f"numa-trace-{s}(1)" for s in SUBCOMMANDS] +
                                         ["numa-trace-findings(7)", "libnumatrace(3)", "gdb(1)",
                                          "journalctl(1)", "coredumpctl(1)"]) +
              f".\nThe full documentation: {DOC_DIR}/.\n")
    pandoc("\n".join(md), "numa-trace", 1, "numa-trace manual")

    # numa-trace-SUB(1), one per subcommand.
    for sub in SUBCOMMANDS:
        body = parts[sub]
        if sub == "run":
            extra = [t for t in order if t.startswith("run and")]
            body += "".join(f"\n\n## {t}\n{parts[t]}" for t in extra)
        body = demote(body)
        md = [f"# NAME\nnuma-trace-{sub} \\- {escape(summary[sub])}\n",
              f"# SYNOPSIS\n{synopsis_of(sub, synopsis)}\n",
              f"# DESCRIPTION\n{links(body)}\n",
              f"# OPTIONS\n{options(sub)}\n",
              "# EXIT STATUS\n0 done, nothing wrong found; 1 done, and problems were reported; 2 wrong arguments or "
              "an input that cannot be used" + (" (run exits with its program's status)" if sub == "run" else "") +
              ". See numa-trace(1).\n",
              "# SEE ALSO\nnuma-trace(1), numa-trace-findings(7)" +
              (", libnumatrace(3)" if sub in ("run", "report") else "") + ".\n"]
        pandoc("\n".join(md), f"numa-trace-{sub}", 1, "numa-trace manual")

    # libnumatrace(3): the hooks API.
    hooks = re.sub(r"^# .*\n", "", read("hooks.md"), count=1)
    hooks = demote(hooks)
    md = ["# NAME\nlibnumatrace \\- hooks for model loaders (numatrace/hooks.h) and the in-process recorder\n",
          "# SYNOPSIS\n```\n#include <numatrace/hooks.h>\n\ncc ... $(pkg-config --cflags numatrace)\n"
          "LD_PRELOAD=libnumatrace.so.0 PROGRAM    # or: numa-trace run PROGRAM\n```\n",
          f"# DESCRIPTION\n{links(hooks)}\n",
          "# SEE ALSO\nnuma-trace(1), numa-trace-run(1), numa-trace-findings(7).\n"]
    pandoc("\n".join(md), "libnumatrace", 3, "numa-trace library")

    # numa-trace-findings(7): the codes.
    findings = re.sub(r"^# .*\n", "", read("findings.md"), count=1)
    findings = demote(findings)
    md = ["# NAME\nnuma-trace-findings \\- what numa-trace's finding codes NT001... mean, and what to do\n",
          f"# DESCRIPTION\n{links(findings)}\n",
          "# SEE ALSO\nnuma-trace(1), numa-trace-report(1), numa-trace-postmortem(1), journalctl(1) (-x shows "
          "the same explanations from numa-trace's message catalog).\n"]
    pandoc("\n".join(md), "numa-trace-findings", 7, "numa-trace manual")


main()
