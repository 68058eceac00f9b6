#!/usr/bin/env python3
"""md2man: the section 5 manual pages of the two configuration files, made from
docs/configuration.md at build time, so the reference is written once.

    md2man.py CONFIGURATION_MD PAGE VERSION OUT

PAGE is mxegress-client.toml or mxegress-server.toml. Only the Markdown that
file uses is understood: headings, paragraphs, "- " lists, tables (the first
column becomes the tag of a .TP entry), fenced code blocks, `code`, **bold**
and [links](…). Anything else passes through as text, escaped for roff.
"""

from __future__ import annotations

import re
import sys

# For each page: its one-line description and the "## " sections it takes.
PAGES = {
    "mxegress-client.toml": (
        "configuration of mxegress-client",
        ["General rules", "Client (", "TCP liveness", "Logs", "Environment"],
        "mxegress-client"),
    "mxegress-server.toml": (
        "configuration of mxegress-server",
        ["General rules", "Server (", "Tenants", "TCP liveness", "Destination deny-list",
         "Logs", "Environment"],
        "mxegress-server"),
}


def escape(text: str) -> str:
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return text


def inline(text: str) -> str:
    """Markdown inline markup to roff fonts; the rest escaped."""
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    out, pos = [], 0
    for m in re.finditer(r"`([^`]+)`|\*\*([^*]+)\*\*", text):
        out.append(escape(text[pos:m.start()]))
        out.append("\\fB" + escape(m.group(1) or m.group(2)) + "\\fR")
        pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def line_out(text: str) -> str:
    """A text line that roff does not take for a request."""
    return "\\&" + text if text[:1] in (".", "'") else text


def cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def convert(lines: list[str]) -> list[str]:
    out: list[str] = []
    para: list[str] = []
    header: list[str] = []
    i = 0

    def flush() -> None:
        if para:
            out.append(line_out(inline(" ".join(para))))
            para.clear()

    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        i += 1
        if stripped.startswith("```"):
            flush()
            out += [".RS 4", ".nf"]
            indent = len(raw) - len(raw.lstrip())
            while i < len(lines) and not lines[i].strip().startswith("```"):
                code = lines[i]
                out.append(line_out(escape(code[min(indent, len(code) - len(code.lstrip())):])))
                i += 1
            i += 1
            out += [".fi", ".RE"]
        elif stripped.startswith("### "):
            flush()
            out.append(".SS " + inline(stripped[4:]))
        elif stripped.startswith("|"):
            flush()
            row = cells(stripped)
            if i < len(lines) and re.match(r"^\|[-:| ]+\|$", lines[i].strip()):
                header = row
                i += 1
                continue
            out += [".TP", line_out(inline(row[0]))]
            extra = [f"{h}: {c}" for h, c in zip(header[1:-1], row[1:-1])] if len(row) > 2 else []
            body = "; ".join(extra) + (". " if extra else "") + row[-1]
            out.append(line_out(inline(body)))
        elif stripped.startswith("- "):
            flush()
            out.append(".IP \\(bu 2")
            para.append(stripped[2:])
        elif not stripped:
            flush()
            if out and out[-1] != ".PP" and not out[-1].startswith((".SH", ".SS")):
                out.append(".PP")
        else:
            para.append(stripped)
    flush()
    return out


def sections(md: str, wanted: list[str]) -> list[tuple[str, list[str]]]:
    found, current = [], None
    for line in md.splitlines():
        if line.startswith("## "):
            title = line[3:].strip()
            current = (title, []) if any(title.startswith(w) for w in wanted) else None
            if current:
                found.append(current)
        elif current is not None:
            current[1].append(line)
    return found


def main() -> int:
    source, page, version, target = sys.argv[1:5]
    description, wanted, program = PAGES[page]
    with open(source, encoding="utf-8") as f:
        md = f.read()
    name = escape(page)
    path = "/etc/mxegress/" + page.split("-", 1)[1]
    out = [f'.TH {name.upper()} 5 "" "mxegress {version}" "File Formats"',
           ".SH NAME", f"{name} \\- {description}",
           ".SH SYNOPSIS", f"\\fI{path}\\fR",
           ".SH DESCRIPTION",
           f"\\fB{escape(program)}\\fR(8) reads one TOML file, by default "
           f"\\fI{path}\\fR (\\fB\\-c\\fR names another). "
           "This page is made from the project's docs/configuration.md."]
    for title, body in sections(md, wanted):
        out.append(".SH " + inline(re.sub(r"\s*\(.*\)$", "", title).upper()))
        out += convert(body)
    out += [".SH SEE ALSO", f"\\fB{escape(program)}\\fR(8)"]
    text = "\n".join(out) + "\n"
    with open(target, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
