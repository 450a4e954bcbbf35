"""A package's Jinja2 templates (its `templates/` folder): HTML is always autoescaped, blocks are trimmed. One
place for the settings every renderer shares; each renderer adds its own filters and globals."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape


def environment(package: str, *, markdown_too: bool = False) -> Environment:
    """`markdown_too`: the package also renders Markdown or text (`*.md.j2`), which must not be HTML-escaped; then
    only `*.html.j2` templates are."""
    return Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=select_autoescape(
            enabled_extensions=("html.j2",), default=not markdown_too, default_for_string=not markdown_too
        ),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=markdown_too,  # a Markdown file ends with its newline
    )
