"""Links Firebell puts in front of people (cards, work items, the status site): which URLs may be linked at all,
and where a file of the public site lives."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit


def is_web_url(url: str | None) -> bool:
    """An http(s) URL with a host: the only kind a button, a work item or a webhook may point at."""
    parts = urlsplit(url or "")
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def site_address(site_url: str, path: str) -> str:
    """A file of the site under its public URL, which names the site's folder with or without a trailing slash;
    relative to the site root when the URL is not known."""
    if not site_url:
        return path
    return urljoin(site_url if site_url.endswith("/") else site_url + "/", path)
