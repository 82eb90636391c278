"""Tables as Markdown: written by every reader that finds one, recognised again by the splitter, which
cuts a long table between rows and repeats its header in every chunk, so a cell's row keeps the
column names that say what the cell means, and by the extractive answer, which quotes a row with them."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

_SEPARATOR = re.compile(r"^\|(?:\s*:?-{3,}:?\s*\|)+\s*$")
# A cell boundary: a pipe that the cell's own text did not escape.
_CELL_BOUNDARY = re.compile(r"(?<!\\)\|")


def markdown_table(rows: Sequence[Sequence[object]]) -> str:
    """Rows (the first one the header) as a GitHub-flavoured Markdown table; empty rows are dropped.

    >>> print(markdown_table([["State", "Permit"], ["Alabama", 18870]]))
    | State | Permit |
    | --- | --- |
    | Alabama | 18870 |
    """
    cells = [[_cell(value) for value in row] for row in rows]
    cells = [row for row in cells if any(row)]
    if not cells:
        return ""
    width = max(len(row) for row in cells)
    lines = ["| " + " | ".join(row + [""] * (width - len(row))) + " |" for row in cells]
    lines.insert(1, "|" + " --- |" * width)
    return "\n".join(lines)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A pipe or a line break inside a cell would end it early.
    return " ".join(text.replace("|", "\\|").split())


@dataclass(frozen=True)
class Block:
    """A run of prose, or a Markdown table (header and separator lines, then its rows)."""

    text: str
    header: str = ""
    rows: tuple[str, ...] = ()

    @property
    def is_table(self) -> bool:
        return bool(self.header)


def blocks(text: str) -> Iterator[Block]:
    """Cut text into prose and the Markdown tables in it, in order.

    >>> [b.is_table for b in blocks("Intro.\\n| a | b |\\n| --- | --- |\\n| 1 | 2 |\\nAfter.")]
    [False, True, False]
    """
    lines = text.split("\n")
    prose: list[str] = []
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and _SEPARATOR.match(lines[i + 1]):
            end = i + 2
            while end < len(lines) and lines[end].startswith("|"):
                end += 1
            if prose:
                yield Block("\n".join(prose))
                prose = []
            header = lines[i] + "\n" + lines[i + 1]
            yield Block("\n".join(lines[i:end]), header=header, rows=tuple(lines[i + 2 : end]))
            i = end
        else:
            prose.append(lines[i])
            i += 1
    if prose:
        yield Block("\n".join(prose))


def embedding_text(text: str) -> str:
    """Text as the embedding model reads it: each table line as its cells, without the pipes and the
    rule under the header. A 256-token model spent a token on every pipe and dash: under a wide
    table's header (NICS: 25 columns) it read none of a chunk's rows, and every chunk of the table
    embedded alike.

    >>> embedding_text("Checks:\\n| State | Permit |\\n| --- | --- |\\n| Texas | 21,550 |")
    'Checks:\\nState Permit\\nTexas 21,550'
    """
    lines: list[str] = []
    for block in blocks(text):
        if block.is_table:
            table = [block.header.split("\n")[0], *block.rows]
            lines.extend(" ".join(cell for cell in row_cells(line) if cell) for line in table)
        else:
            lines.append(block.text)
    return "\n".join(lines)


def table_pieces(block: Block, size: int) -> list[str]:
    """A table in pieces of at most `size` characters where rows allow, each starting with the header.

    >>> table = next(blocks("| k | v |\\n| --- | --- |\\n| a | 1 |\\n| b | 2 |"))
    >>> table_pieces(table, 40)
    ['| k | v |\\n| --- | --- |\\n| a | 1 |', '| k | v |\\n| --- | --- |\\n| b | 2 |']
    """
    pieces: list[str] = []
    current: list[str] = []
    length = len(block.header)
    for row in block.rows:
        if current and length + 1 + len(row) > size:
            pieces.append("\n".join([block.header, *current]))
            current, length = [], len(block.header)
        current.append(row)
        length += 1 + len(row)
    if current or not pieces:
        pieces.append("\n".join([block.header, *current]))
    return pieces


def row_cells(line: str) -> list[str]:
    """The cells of one Markdown table row.

    >>> row_cells("| Texas | 21,550 |  |")
    ['Texas', '21,550', '']
    """
    return [" ".join(cell.split()) for cell in _CELL_BOUNDARY.split(line.strip().strip("|"))]


def row_quote(header: str, row: str) -> str:
    """A table row as an answer quotes it: its first cell, then every other non-empty cell after its
    column's name, so "56,941" says what it counts. A header that names fewer than half its columns
    (one read from a PDF's layout, its names split over lines) cannot say that: the row stays a row.

    >>> row_quote("| State | Handgun | Long gun |", "| Texas | 56,941 | 51,670 |")
    'Texas: Handgun 56,941, Long gun 51,670'
    >>> row_quote("|  |  | Pre-Paw |", "| Texas | 21,550 | 0 |")
    '| Texas | 21,550 | 0 |'
    """
    names, cells = row_cells(header), row_cells(row)
    if 2 * sum(1 for name in names if name) < len(names) or len(cells) < 2:
        return " ".join(row.split())
    label, *values = cells
    named = [f"{name} {value}".strip() for name, value in zip(names[1:], values) if value]
    return f"{label}: {', '.join(named)}" if label else ", ".join(named)
