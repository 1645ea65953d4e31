"""How the documents write: Markdown and HTML markup for our prose and for user-provided values,
tables and capped lists (numbers and sizes are written by :mod:`export._format`).

User-provided text (column names, categories, classes, paths) can hold ``<``, ``|``, ``[`` or
spaces: Markdown shows it in code spans, HTML escapes it with :func:`html.escape`.

>>> print(md_table(["column"], [[MARKDOWN.code("a|b")], [MARKDOWN.text("<i>")]]))
| column |
|---|
| `a\\|b` |
| &lt;i> |
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["HTML", "MARKDOWN", "Markup", "capped", "html_table", "md_table", "sentence"]


@dataclasses.dataclass(frozen=True)
class Markup:
    """How one document format shows our prose (``text``) and user-provided values (``code``)."""

    text: Callable[[str], str]
    code: Callable[[str], str]


def _md_code(value: str) -> str:
    """A Markdown code span: ``<`` and ``[`` stay literal; a backtick widens the fence."""
    value = " ".join(value.splitlines())
    fence = "``" if "`" in value else "`"
    if fence == "``" or value.startswith(" ") or value.endswith(" "):
        value = f" {value} "
    return f"{fence}{value}{fence}"


def _md_text(value: str) -> str:
    return " ".join(value.splitlines()).replace("<", "&lt;")


MARKDOWN = Markup(text=_md_text, code=_md_code)
HTML = Markup(text=html.escape, code=lambda value: f"<code>{html.escape(value)}</code>")


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    """A GitHub-flavoured Markdown table of formatted cells: ``|`` escaped (in code spans too), line
    breaks as spaces. ``align`` has one letter per column, ``l`` or ``r`` (default: none given).

    >>> print(md_table(["a", "b"], [[1, "x|y"]], align="lr"))
    | a | b |
    |:---|---:|
    | 1 | x\\|y |
    """
    if align is not None and len(align) != len(headers):
        raise ValueError(f"align {align!r} has {len(align)} letters for {len(headers)} columns")
    for index, row in enumerate(rows):
        if len(row) != len(headers):
            raise ValueError(f"row {index} has {len(row)} cells for {len(headers)} columns")

    def line(cells: Sequence[Any]) -> str:
        return "| " + " | ".join(str(cell).replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"

    rules = [{"l": ":---", "r": "---:"}[letter] for letter in align] if align else ["---"] * len(headers)
    return "\n".join([line(headers), "|" + "|".join(rules) + "|", *(line(row) for row in rows)])


def html_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An HTML table of already formatted (escaped) cells."""
    head = "".join(f"<th>{cell}</th>" for cell in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>\n" for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>"


def capped(values: Sequence[Any], limit: int, markup: Markup) -> str:
    """``a, b, c and 4 more``: long lists of user values stay readable."""
    shown = ", ".join(markup.code(str(value)) for value in values[:limit])
    rest = len(values) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown


def sentence(text: str) -> str:
    return f"{text[:1].upper()}{text[1:]}."
