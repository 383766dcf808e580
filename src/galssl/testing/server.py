"""An HTTP server on 127.0.0.1 that serves the mock sky with the URLs and query conventions of real services.

So galssl's real query code (requests, astroquery) runs offline against known truth. Endpoints (any path
prefix is accepted, so ``/viewer/fits-cutout`` and ``/sas/dr17/...`` work too):

- Legacy Survey viewer: ``GET /fits-cutout?ra=&dec=&layer=ls-dr10&pixscale=0.262&bands=griz&size=64``
  (``galssl.testing.services.legacy_fits_cutout``).
- CDS hips2fits: ``GET /hips-image-services/hips2fits?hips=CDS/P/DESI-Legacy-Surveys/DR10/g&width=&height=&fov=
  &ra=&dec=&projection=TAN&format=fits`` (``services.hips2fits``; point astroquery at ``MockServer.hips2fits_url``).
- SDSS SkyServer (``astroquery.sdss.conf.skyserver_baseurl = MockServer.url``): ``GET /dr17/en/tools/search/
  x_results.aspx?cmd=&format=csv`` and ``/dr17/SkyServerWS/SearchTools/SqlSearch``; CrossID
  ``POST /dr17/en/tools/search/X_Results.aspx`` (``galssl.testing.skyserver``).
- SDSS SAS (``astroquery.sdss.conf.sas_baseurl = MockServer.sas_url``): ``GET /sas/dr17/eboss/photoObj/frames/
  301/{run}/{camcol}/frame-{band}-{run:06d}-{camcol}-{field:04d}.fits.bz2``.

Bad parameters give HTTP 400 with a one-line message (JSON ``{"title", "description"}`` for hips2fits, text
starting ``error_message`` for SkyServer, as those clients expect). Faults are injected following a
``FaultPlan`` or a ``fault=<kind>`` query parameter (see ``galssl.testing.faults``).
"""

from __future__ import annotations

import errno
import hashlib
import logging
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from galssl.errors import ConfigError, GalsslError
from galssl.mocksky.settings import MockSettings
from galssl.mocksky.sky import MockSky
from galssl.testing import faults as fault_io
from galssl.testing.faults import FAULT_KINDS, FaultInjector, FaultPlan
from galssl.testing.services import NotFound, Reply, hips2fits, json_error, legacy_fits_cutout
from galssl.testing.skyserver import FRAME_PATH, crossid_search, form_fields, sdss_frame, sql_search

logger = logging.getLogger(__name__)

ServiceHandler = Callable[[MockSky, dict[str, str], str, bytes], Reply]
ROUTES: list[tuple[re.Pattern[str], str, ServiceHandler]] = [
    (re.compile(r"/fits-cutout$"), "GET", lambda sky, params, path, body: legacy_fits_cutout(sky, params)),
    (re.compile(r"/hips2fits$"), "GET", lambda sky, params, path, body: hips2fits(sky, params)),
    (re.compile(r"/dr\d+/en/tools/search/x_results\.aspx$", re.I), "ANY",
     lambda sky, params, path, body: crossid_search(sky, params) if "uquery" in params else sql_search(sky, params)),
    (re.compile(r"/dr\d+/SkyServerWS/SearchTools/SqlSearch$", re.I), "ANY",
     lambda sky, params, path, body: sql_search(sky, params)),
    (FRAME_PATH, "GET", lambda sky, params, path, body: sdss_frame(sky, path)),
]
"""(path pattern, method, handler); the first pattern found in the path answers."""

INDEX = ("galssl mock sky server: GET /fits-cutout (Legacy Survey), GET /hips-image-services/hips2fits (CDS), "
         "GET|POST /dr17/en/tools/search/x_results.aspx and /dr17/SkyServerWS/SearchTools/SqlSearch (SDSS SkyServer), "
         "GET /sas/dr17/eboss/photoObj/frames/301/... (SDSS SAS)")


def answer(sky: MockSky, method: str, path: str, params: dict[str, str], body: bytes) -> Reply:
    """Route one request to its service; user errors become 400/404 replies with a one-line message."""
    if path in ("", "/"):
        return Reply.text(200, INDEX)
    for pattern, allowed, handler in ROUTES:
        if pattern.search(path):
            if allowed != "ANY" and method != allowed:
                return Reply.text(405, f"{method} is not allowed on {path} (use {allowed})")
            try:
                return handler(sky, params, path, body)
            except NotFound as error:
                return Reply.text(404, str(error))
            except GalsslError as error:
                return json_error(str(error)) if path.endswith("/hips2fits") else Reply.text(400, str(error))
    return Reply.text(404, f"no such endpoint: {path} ({INDEX})")


class _RequestHandler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "galssl-mock-sky/1.0"

    def do_GET(self) -> None:
        self._serve("GET", b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._serve("POST", self.rfile.read(length) if length > 0 else b"")

    def _serve(self, method: str, body: bytes) -> None:
        mock = self.server.mock
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        forced = params.pop("fault", None)
        if method == "POST":
            content_type = self.headers.get("Content-Type", "")
            if content_type.startswith("multipart/form-data"):
                params.update(form_fields(content_type, body))
            elif content_type.startswith("application/x-www-form-urlencoded"):
                params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        key = f"{method} {url.path}?{sorted(params.items())}#{hashlib.blake2b(body, digest_size=8).hexdigest()}"
        try:
            fault = mock.injector.decide(key, forced or None)
        except GalsslError as error:
            self._send(Reply.text(400, str(error)))
            return
        plan = mock.injector.plan
        if fault == "reset":
            fault_io.reset_connection(self)
            return
        if fault in ("error500", "error503", "rate429"):
            fault_io.send_error_fault(self, fault, plan)
            return
        if fault in ("slow", "timeout"):
            fault_io.pause(plan)
        try:
            reply = answer(mock.sky, method, url.path, params, body)
        except Exception as error:  # a bug in the mock must still answer like a server, not hang the client
            logger.exception("mock sky server failed on %s", self.path)
            reply = Reply.text(500, f"internal error in the mock sky server: {type(error).__name__}: {error}")
        if fault == "corrupt":
            reply.body = fault_io.corrupt_bytes(reply.body, key)
        self._send(reply, truncate=fault == "truncated")

    def _send(self, reply: Reply, truncate: bool = False) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if truncate:
            self.wfile.write(reply.body[:fault_io.truncated_length(reply.body)])
            self.close_connection = True
        else:
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], mock: MockServer) -> None:
        self.mock = mock
        super().__init__(address, _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout, retry) is routine here; anything else is logged, not printed.
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class MockServer:
    """The mock sky over HTTP; a context manager that serves from a background thread.

    >>> with MockServer(sky) as server:           # port 0: a free port
    ...     requests.get(f"{server.url}/fits-cutout", params={"ra": 185.0, "dec": 15.0, "size": 64})
    """

    def __init__(self, sky: MockSky, host: str = "127.0.0.1", port: int = 0, faults: FaultPlan | None = None) -> None:
        self.sky = sky
        self.injector = FaultInjector(faults or FaultPlan())
        self._httpd = _HTTPServer((host, port), self)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. 'http://127.0.0.1:54321' (also the SkyServer base URL)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def legacy_url(self) -> str:
        return f"{self.url}/fits-cutout"

    @property
    def hips2fits_url(self) -> str:
        return f"{self.url}/hips-image-services/hips2fits"

    @property
    def sas_url(self) -> str:
        """SDSS Science Archive Server base (astroquery.sdss.conf.sas_baseurl)."""
        return f"{self.url}/sas"

    @property
    def stats(self) -> dict[str, object]:
        """Requests seen and faults injected (``{"requests", "faults", "by_kind"}``), counted thread-safely."""
        return self.injector.stats

    def start(self) -> MockServer:
        """Serve from a daemon thread (returns at once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                            name="galssl-mock-sky-server", daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until ``stop()`` or KeyboardInterrupt."""
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass  # Ctrl-C is how a user stops the server: leave quietly, the finally block closes the socket
        finally:
            self._httpd.server_close()

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def sky_from_config(config: dict[str, Any]) -> MockSky:
    """The MockSky of a (validated) config: its ``seed`` and ``mock`` section."""
    return MockSky(MockSettings.from_section(config.get("mock") or {}), int(config.get("seed", 0)))


def run_server(config_path_or_dict: str | Path | dict[str, Any], port: int, faults: FaultPlan | None = None,
               host: str = "127.0.0.1") -> None:
    """Serve the config's mock sky on ``host:port`` until Ctrl-C, after printing one line with the URL."""
    if isinstance(config_path_or_dict, dict):
        config = config_path_or_dict
    else:
        from galssl.config import load_config  # only the CLI path needs the schema machinery

        config = load_config(config_path_or_dict)
    try:
        server = MockServer(sky_from_config(config), host=host, port=port, faults=faults)
    except OSError as error:
        if error.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise
        why = {errno.EADDRINUSE: "is already in use (another mock-server or program listens there)",
               errno.EACCES: "needs privileges (ports below 1024)"}.get(error.errno, "is not available on this machine")
        raise ConfigError(f"--port {port}: {host}:{port} {why}; stop that program or choose another port, e.g. "
                          f"--port {port + 1 if 0 < port < 65535 else 8766}, or --port 0 for any free one") from None
    plan = server.injector.plan
    fault_note = f"; faults {plan.rate:g} of {','.join(plan.kinds)}" if plan.rate > 0 else ""
    print(f"galssl mock sky server at {server.url} (hips2fits {server.hips2fits_url}, SDSS SAS {server.sas_url}"
          f"{fault_note}); Ctrl-C stops", flush=True)
    server.serve_forever()


def serve_from_config(config: dict[str, Any], port: int, fault_rate: float = 0.0,
                      fault_kinds: tuple[str, ...] = FAULT_KINDS, seed: int | None = None) -> None:
    """Entry of ``galssl mock-server``: serve forever with faults at ``fault_rate`` (seed defaults to config's)."""
    plan = FaultPlan(rate=fault_rate, kinds=tuple(fault_kinds),
                     seed=int(config.get("seed", 0) if seed is None else seed))
    run_server(config, port, plan)
