"""Reading the readiness report back as a person with a screen reader would: each table by id (caption, header and
rows as text), and each chart's SVG with its accessible name."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class ReadTable:
    caption: str = ""
    rows: list[list[str]] = field(default_factory=list)  # the header row first


@dataclass
class ReadChart:
    attributes: dict[str, str | None]
    title: str = ""
    desc: str = ""
    shapes: dict[str, int] = field(default_factory=dict)  # element → how many (rect, circle, path)


class _Report(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, ReadTable] = {}
        self.charts: list[ReadChart] = []
        self.tags: list[str] = []
        self._table: ReadTable | None = None
        self._text: list[str] | None = None
        self._chart: ReadChart | None = None
        self._in: str | None = None  # caption | cell | title | desc

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(found["id"] or "", ReadTable())
        elif tag == "tr" and self._table is not None:
            self._table.rows.append([])
        elif tag in ("th", "td", "caption") and self._table is not None:
            self._text, self._in = [], "caption" if tag == "caption" else "cell"
        elif tag == "svg":
            self._chart = ReadChart(found)
            self.charts.append(self._chart)
        elif self._chart is not None and tag in ("title", "desc") and not self._chart.shapes:
            self._text, self._in = [], tag
        elif self._chart is not None and tag in ("rect", "circle", "path"):
            self._chart.shapes[tag] = self._chart.shapes.get(tag, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag == "svg":
            self._chart = None
        elif self._in is not None and self._text is not None:
            text = " ".join("".join(self._text).split())
            if self._in == "caption" and tag == "caption" and self._table is not None:
                self._table.caption = text
            elif self._in == "cell" and tag in ("th", "td") and self._table is not None:
                self._table.rows[-1].append(text)
            elif self._in in ("title", "desc") and tag == self._in and self._chart is not None:
                setattr(self._chart, self._in, text)
            else:
                return
            self._text = self._in = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def read_report(html: str) -> _Report:
    parser = _Report()
    parser.feed(html)
    parser.close()
    return parser
