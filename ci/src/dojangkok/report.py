"""How results are printed: aligned text tables (rich), Markdown for a GitHub step summary, or JSON.

Every report is a list of sections, each a titled table or a list of key/value pairs, so one renderer serves
plan, publish, deploy and rollback alike; JSON is the data itself, not a rendering of the tables.
"""

from __future__ import annotations

import enum
import io
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich import box
from rich.console import Console
from rich.table import Table


def progress(line: str) -> None:
    """Progress for people, on stderr: stdout carries only the function's result."""
    print(line, file=sys.stderr, flush=True)


WIDTH = 160  # wide enough for references by digest; rich wraps a longer cell rather than cutting it


class OutputFormat(enum.StrEnum):
    """How a report is printed."""

    text = "text"
    """Aligned tables for people."""

    json = "json"
    """The same data as JSON, for scripts."""

    markdown = "markdown"
    """GitHub-flavoured Markdown tables, e.g. for $GITHUB_STEP_SUMMARY."""


@dataclass
class Section:
    """A table (``header`` + ``rows``) or, without a header, key/value pairs; ``title`` above it."""

    title: str = ""
    header: Sequence[str] = ()
    rows: list[Sequence[str]] = field(default_factory=list)


def render(title: str, sections: Sequence[Section], data: object, fmt: OutputFormat | str) -> str:
    """``data`` as JSON, or ``title`` and ``sections`` as text or Markdown."""
    fmt = OutputFormat(fmt)
    if fmt is OutputFormat.json:
        return json.dumps(data, indent=2) + "\n"
    if fmt is OutputFormat.markdown:
        return _markdown(title, sections)
    return _text(title, sections)


def _text(title: str, sections: Sequence[Section]) -> str:
    out = io.StringIO()
    console = Console(file=out, width=WIDTH, color_system=None, highlight=False, emoji=False, markup=False)
    console.print(title)
    for section in sections:
        console.print()
        if section.title:
            console.print(section.title)
        table = Table(box=box.SIMPLE_HEAD if section.header else None, show_header=bool(section.header),
                      show_edge=False, padding=(0, 2, 0, 0), pad_edge=False)
        for name in section.header or ("", ""):
            table.add_column(name, overflow="fold")
        for row in section.rows:
            table.add_row(*(str(cell) for cell in row))
        console.print(table)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _markdown(title: str, sections: Sequence[Section]) -> str:
    lines = [f"### {title}"]
    for section in sections:
        lines.append("")
        if section.title:
            lines += [f"**{section.title}**", ""]
        header = section.header or ("", "")
        lines.append("| " + " | ".join(_cell(h) for h in header) + " |")
        lines.append("|" + "|".join(" --- " for _ in header) + "|")
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in section.rows]
    return "\n".join(lines) + "\n"
