"""A loopback HTTP server for crawl tests: serves a folder on 127.0.0.1 and logs every request.

`serve_directory(folder)` starts a `ThreadingHTTPServer` on a free port in a daemon thread and
yields a `LoopbackSite`: `url(path)` builds URLs, `requests` lists what clients asked for
(method, path, Range header, status), and `fail_next(path, status, times)` makes the next
requests of a path answer an error (for retry tests). Symlinks in the folder are followed, so a
test can build a site from links to real files. Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlsplit


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    range: str | None
    status: int


@dataclass
class LoopbackSite:
    """The running server: its base URL, its request log and its scripted failures."""

    base_url: str
    requests: list[LoggedRequest] = field(default_factory=list)
    failures: dict[str, list[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"{self.base_url}/{quote(path.lstrip('/'))}"

    def fail_next(self, path: str, status: int, times: int = 1) -> None:
        """The next `times` requests for `path` get `status` instead of the file."""
        with self.lock:
            self.failures.setdefault("/" + path.lstrip("/"), []).extend([status] * times)

    def requests_for(self, path: str, method: str | None = None) -> list[LoggedRequest]:
        wanted = "/" + path.lstrip("/")
        with self.lock:
            return [r for r in self.requests if r.path == wanted and method in (None, r.method)]

    def forget_failures(self) -> None:
        """Drop the scripted failures not used yet."""
        with self.lock:
            self.failures.clear()

    def clear(self) -> None:
        """Forget the request log and any scripted failures not used yet."""
        self.forget_failures()
        with self.lock:
            self.requests.clear()


class _Handler(SimpleHTTPRequestHandler):
    site: LoopbackSite

    def _scripted_failure(self) -> int | None:
        path = urlsplit(self.path).path
        with self.site.lock:
            pending = self.site.failures.get(path)
            return pending.pop(0) if pending else None

    def _log(self, status: int) -> None:
        entry = LoggedRequest(
            self.command, urlsplit(self.path).path, self.headers.get("Range"), status
        )
        with self.site.lock:
            self.site.requests.append(entry)

    def send_response(self, code: int, message: str | None = None) -> None:
        self._log(code)
        super().send_response(code, message)

    def copyfile(self, source, outputfile) -> None:  # noqa: ANN001 - the base signature
        # yt-dlp's generic extractor reads the headers of a media URL and hangs up.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().copyfile(source, outputfile)

    def do_GET(self) -> None:  # noqa: N802 - the http.server naming
        status = self._scripted_failure()
        if status is None:
            super().do_GET()
        else:
            self.send_error(status)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base signature
        """Quiet: the request log is `site.requests`."""


@contextmanager
def serve_directory(folder: Path) -> Iterator[LoopbackSite]:
    """Serve `folder` on 127.0.0.1 (a free port) for the duration of the `with` block."""
    site = LoopbackSite(base_url="")
    handler = type("SiteHandler", (_Handler,), {"site": site})
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
    )
    host, port = server.server_address[:2]
    site.base_url = f"http://{host}:{port}"
    thread = threading.Thread(target=server.serve_forever, name="loopback-http", daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
