"""The Teams HTML stripper on hostile markup: 32 KB (the limit) of unclosed or odd tags, the slowest of five runs.

Teams waits 5 s for a reply. The stdlib HTMLParser it replaced rescanned to the end of the input for each unclosed
tag: its time for the same text at 8 KB and 16 KB is printed beside (quadratic: twice the text, four times the time).
"""

from __future__ import annotations

import time
from html.parser import HTMLParser

from bench.figures import report
from shared.teams.activity import MAX_MARKUP, _command_text

UNITS = ["<a ", "<a\n", '<a b="', '<a b=">" ', "<a b=1 ", "<!--", "<!--x>", "</a", "<?", "&#", "<at>", "<p>x</p>"]


def _slowest(run, text: str, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(text)
        times.append(time.perf_counter() - start)
    return max(times)


def _stdlib(text: str) -> None:
    parser = HTMLParser(convert_charrefs=True)
    parser.feed(text)
    parser.close()


def main() -> None:
    rows = []
    for unit in UNITS:
        text = (unit * MAX_MARKUP)[:MAX_MARKUP]
        rows.append((f"32 KB of {unit!r}", f"{_slowest(_command_text, text) * 1000:.1f} ms"))
    for size in (8 * 1024, 16 * 1024):
        text = ("<a " * size)[:size]
        rows.append((f"stdlib HTMLParser, {size // 1024} KB of '<a '", f"{_slowest(_stdlib, text, 1) * 1000:.0f} ms"))
    report("Teams HTML stripper on hostile markup (slowest of 5)", rows)


if __name__ == "__main__":
    main()
