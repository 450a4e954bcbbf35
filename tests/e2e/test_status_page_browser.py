"""In a real browser, with JavaScript on: hostile public updates stay inert text, and the page asks nothing of any
host but the one serving it.

Chromium is Debian's `chromium` package (installed here when missing and running as root), run headless. The DOM is
read with --dump-dom; the page's own requests are read over the DevTools protocol (--remote-debugging-pipe), which
sees every request a page attempts, even one that fails, and none of the browser's background traffic. A screenshot
is kept at test-artifacts/status-page.png.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shared.catalog.services import Catalog, Service
from shared.core.settings import DEVELOPMENT_ID_KEY
from shared.incidents.incident import Incident
from shared.incidents.timeline import COMPONENT_STATUS_SET, PUBLIC_UPDATE, TimelineEvent
from shared.statuspage.public_ids import public_id
from shared.statuspage.public_view import status_page
from shared.statuspage.site import SiteFile, render_site
from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
APT_GET = "/usr/bin/apt-get"
ARTIFACTS = ROOT / "test-artifacts"
TITLE = "Acme Status"
NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
YESTERDAY = datetime(2026, 3, 28, 10, 0, tzinfo=UTC)
# Each would change the page if it ran: the title, or an element with id "pwned".
SCRIPT = "<script>document.title='pwned';document.body.insertAdjacentHTML('beforeend','<p id=pwned>x</p>')</script>"
IMAGE = "<img src=x onerror=\"document.title='pwned-img'\">"
LINK = "<a href=\"javascript:document.title='pwned-link'\">details</a>"
PAYLOAD = f"Rolling back. {SCRIPT} {IMAGE} {LINK}"
# The control page does what the status page must never do: run a script and ask another host for something.
ELSEWHERE = "http://127.0.0.2:9/pixel.png"  # another host; refused at once, so the load is not held up
CONTROL = (
    "<!doctype html><html><head><title>before</title><link rel='icon' href='data:,'></head>"
    f"<body><img src='{ELSEWHERE}' alt=''><script>document.title='js-ran'</script></body></html>"
)


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        if os.geteuid() != 0:
            # A failure, not a skip: the browser proof is part of the suite, and a skip would hide that it never ran.
            pytest.fail(
                "/usr/bin/chromium is missing and this test is not running as root, so it cannot install Debian's "
                "`chromium` package; run it as root or `apt-get install -y --no-install-recommends chromium` first"
            )
        environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run([APT_GET, "update"], check=True, env=environment, capture_output=True, timeout=600)
        subprocess.run(
            [APT_GET, "install", "-y", "--no-install-recommends", "chromium"],
            check=True,
            env=environment,
            capture_output=True,
            timeout=1200,
        )
    return CHROMIUM


def _site() -> list[SiteFile]:
    catalog = Catalog(services=(Service("checkout", "Checkout"),), default=Service("default", "Other services"))
    declared = NOW - timedelta(minutes=30)
    incident = Incident(
        id="INC-1",
        number=1,
        title="internal",
        service="checkout",
        components=("Checkout",),
        severity=2,
        status="identified",
        source="monitoring",
        source_detail="internal",
        detected_at=declared,
        declared_at=declared,
        updated_at=NOW,
        acknowledged_at=declared,
    )
    incident = replace(incident, next_update_at=NOW + timedelta(minutes=30))
    at = declared + timedelta(minutes=10)
    update = TimelineEvent(
        "INC-1",
        "u1",
        PUBLIC_UPDATE,
        at,
        at,
        "Priya",
        "teams",
        "",
        True,
        {"status": "identified", "public_text": PAYLOAD},
    )
    # Yesterday's SEV3 (degraded by its severity): set to partial outage 20 minutes in, resolved 40 minutes later.
    set_at = YESTERDAY + timedelta(minutes=20)
    partial = TimelineEvent(
        "INC-2", "c1", COMPONENT_STATUS_SET, set_at, set_at, "Priya", "teams", "", False,
        {"component": "Checkout", "status": "partial_outage"},
    )  # fmt: skip
    resolved = replace(
        incident,
        id="INC-2",
        number=2,
        severity=3,
        status="resolved",
        declared_at=YESTERDAY,
        detected_at=YESTERDAY,
        acknowledged_at=YESTERDAY + timedelta(minutes=5),
        resolved_at=YESTERDAY + timedelta(minutes=60),
        updated_at=YESTERDAY + timedelta(minutes=60),
        component_overrides=(("Checkout", "partial_outage"),),
        next_update_at=None,
    )
    timelines = {"INC-1": [update], "INC-2": [partial]}
    page = status_page(TITLE, catalog, [incident, resolved], timelines, (), NOW, "")
    return render_site(page)


class _Site(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, files: dict[str, SiteFile]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files = files
        self.paths: list[str] = []  # what was asked of this server
        self.lock = threading.Lock()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    """The site as the Storage static website serves it: each file with its Content-Type and Cache-Control."""

    server: _Site

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.paths.append(self.path)
        path = self.path.split("?")[0].lstrip("/") or "index.html"
        if path == "control.html":
            self._answer(CONTROL.encode(), "text/html; charset=utf-8", "no-store")
            return
        found = self.server.files.get(path)
        if found is None:
            self.send_error(404)
            return
        self._answer(found.body, found.content_type, found.cache_control)

    def _answer(self, body: bytes, content_type: str, cache_control: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", cache_control)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def served() -> Iterator[_Site]:
    server = _Site({f.path: f for f in _site()})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def _elements(dom: str) -> list[tuple[str, dict[str, str | None]]]:
    """Every element of the live DOM chromium dumped, with its attributes."""
    parser = _Elements()
    parser.feed(dom)
    parser.close()
    return parser.found


def _flags(binary: Path, profile: Path) -> list[str]:
    return [
        str(binary),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ]


def _chromium(binary: Path, profile: Path, url: str, *action: str) -> str:
    done = subprocess.run(
        [*_flags(binary, profile), *action, url], capture_output=True, text=True, timeout=90, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class _DevTools:
    """Chromium driven over the DevTools protocol on a pipe (fds 3 and 4 of the browser, NUL-separated JSON)."""

    def __init__(self, binary: Path, profile: Path) -> None:
        to_browser, self._writer = os.pipe()
        self._reader, from_browser = os.pipe()
        # Copies above fd 10, so putting them on 3 and 4 in the child cannot overwrite one with the other.
        child_in = fcntl.fcntl(to_browser, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(from_browser, fcntl.F_DUPFD_CLOEXEC, 10)

        def wire() -> None:
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        # preexec_fn runs in the child before exec: the one way to hand the browser its pipe as fds 3 and 4.
        self._process = subprocess.Popen(
            [*_flags(binary, profile), "--remote-debugging-pipe", "about:blank"],
            close_fds=False,
            preexec_fn=wire,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for fd in (to_browser, from_browser, child_in, child_out):
            os.close(fd)
        self._buffer = b""
        self._last_id = 0
        self.events: list[dict] = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Network.enable", session=self.session)
        self.call("Page.enable", session=self.session)

    def _messages(self, seconds: float) -> Iterator[dict]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                self.events.append(message)
                yield message
            if select.select([self._reader], [], [], 0.05)[0]:
                chunk = os.read(self._reader, 1 << 16)
                if not chunk:
                    return
                self._buffer += chunk

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._last_id += 1
        message = {"id": self._last_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._writer, json.dumps(message).encode() + b"\0")
        for answer in self._messages(30):
            if answer.get("id") == self._last_id:
                assert "error" not in answer, answer
                return answer["result"]
        raise AssertionError(f"no answer to {method}")

    def visit(self, url: str) -> tuple[list[str], str]:
        """Load the page; the URLs of every request it attempted, and its title once loaded."""
        start = len(self.events)
        self.call("Page.navigate", {"url": url}, session=self.session)
        for event in self._messages(30):
            if event.get("method") == "Page.loadEventFired":
                break
        for _ in self._messages(0.5):  # anything a handler might still ask for after the load
            pass
        title = self.call("Runtime.evaluate", {"expression": "document.title", "returnByValue": True}, self.session)
        requests = [
            event["params"]["request"]["url"]
            for event in self.events[start:]
            if event.get("method") == "Network.requestWillBeSent" and event.get("sessionId") == self.session
        ]
        return requests, title["result"]["value"]

    def close(self) -> None:
        os.write(self._writer, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
        try:
            self._process.wait(timeout=20)
        finally:
            if self._process.poll() is None:
                self._process.kill()
            os.close(self._writer)
            os.close(self._reader)


PAGES = (f"incidents/{public_id('INC-1', DEVELOPMENT_ID_KEY.encode())}.html", "index.html")


def test_javascript_is_on_in_this_browser(chromium, served, tmp_path):
    """The control: the same browser runs a page's own script, so the inert payloads below are not a fluke."""
    dom = _chromium(chromium, tmp_path / "profile", f"{served.origin}/control.html", "--dump-dom")
    assert "<title>js-ran</title>" in dom


def test_hostile_updates_render_as_inert_text(chromium, served, tmp_path):
    for page in PAGES:
        dom = _chromium(chromium, tmp_path / "profile", f"{served.origin}/{page}", "--dump-dom")
        title = "Issue affecting Checkout · Acme Status" if page.startswith("incidents/") else TITLE
        assert re.search(r"<title>(.*?)</title>", dom).group(1) == title, page
        elements = _elements(dom)
        assert not [attrs for _, attrs in elements if attrs.get("id") == "pwned"]
        assert not [tag for tag, _ in elements if tag in ("script", "img")]  # the site has none; nor did the payload
        assert not [attrs for _, attrs in elements if (attrs.get("href") or "").startswith("javascript:")]
        assert not [attrs for _, attrs in elements if any(name.startswith("on") for name in attrs)]
        # The words are there, literally, for anyone to read.
        visible = (
            "Rolling back. &lt;script&gt;document.title='pwned';document.body.insertAdjacentHTML("
            "'beforeend','&lt;p id=pwned&gt;x&lt;/p&gt;')&lt;/script&gt; &lt;img src=x "
            "onerror=\"document.title='pwned-img'\"&gt; &lt;a href=\"javascript:document.title='pwned-link'\"&gt;"
            "details&lt;/a&gt;"
        )
        assert visible in dom, page

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "status-page.png"
    shot.unlink(missing_ok=True)
    _chromium(
        chromium, tmp_path / "profile", f"{served.origin}/index.html", f"--screenshot={shot}", "--window-size=1280,2000"
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_a_component_set_to_partial_outage_shows_its_minutes_and_impact_after_resolution(chromium, served, tmp_path):
    """Yesterday's incident was degraded 20 minutes, then a partial outage for 40 until it was resolved; today's
    SEV2 has been a partial outage for 30 minutes. The history, the impact and the uptime figure all say so."""
    dom = _chromium(chromium, tmp_path / "profile", f"{served.origin}/index.html", "--dump-dom")
    assert "28 Mar 2026: Partial outage, 40 min of outage; 20 min degraded performance" in _text(dom)
    assert "29 Mar 2026: Partial outage, 30 min of outage" in _text(dom)
    assert "99.94 % uptime" in dom  # 70 minutes of outage in 89 days and 12 hours: 1 − 70/128,880, floored
    assert "Major impact" in dom and "Minor impact" not in dom
    listed = json.loads(served.files["api/v2/incidents.json"].body)["incidents"]
    yesterday = next(i for i in listed if i["status"] == "resolved")
    assert (yesterday["impact"], yesterday["id"]) == ("major", public_id("INC-2", DEVELOPMENT_ID_KEY.encode()))
    assert [c["status"] for c in yesterday["components"]] == ["partial_outage"]


def _text(dom: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", dom))


def test_the_pages_ask_nothing_of_any_host_but_the_local_server(chromium, served, tmp_path):
    browser = _DevTools(chromium, tmp_path / "profile")
    try:
        # The instrument sees a script run and a request to another host when a page makes one…
        control, title = browser.visit(f"{served.origin}/control.html")
        assert (control, title) == ([f"{served.origin}/control.html", ELSEWHERE], "js-ran")
        # …and the status pages make none: only the page itself and its stylesheet, from the local server.
        stylesheet = next(path for path in served.files if path.startswith("assets/"))
        for page in PAGES:
            served.paths.clear()
            requests, title = browser.visit(f"{served.origin}/{page}")
            expected = [f"{served.origin}/{page}", f"{served.origin}/{stylesheet}"]
            assert sorted(requests) == sorted(expected), page
            assert title == ("Issue affecting Checkout · Acme Status" if page.startswith("incidents/") else TITLE)
            assert set(served.paths) <= {f"/{page}", f"/{stylesheet}"}  # (the stylesheet may come from the cache)
            assert f"/{page}" in served.paths
    finally:
        browser.close()


def test_chromium_is_the_debian_package(chromium):
    assert shutil.which("chromium") == str(chromium)
