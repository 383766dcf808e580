"""Deterministic fault injection for the mock sky server: the failures real survey services show under load.

Kinds (``FAULT_KINDS``):

- ``error500`` / ``error503``: an HTTP 500 / 503 with a one-line text body.
- ``rate429``: HTTP 429 with a ``Retry-After`` header (whole seconds, ``ceil(retry_after_s)``).
- ``slow`` / ``timeout``: sleep ``slow_s`` seconds, then answer normally (a client with a shorter read timeout
  sees a timeout).
- ``truncated``: a 200 whose ``Content-Length`` is that of the full body, but only the first half is sent before
  the connection closes.
- ``corrupt``: a 200 with the right length and content type, but deterministic garbage bytes as body.
- ``reset``: the socket is closed (with RST) without any response.

Which request fails is decided per request key (method, path, query without ``fault``, body digest) and attempt
number *n* of that key (1, 2, 3, ... as the server sees it): the first ``FAILING_ATTEMPTS`` = 3 attempts fail
independently with probability ``rate`` (kind chosen uniformly from ``kinds``), by hashing
``(seed, key, n)``; attempts beyond the 3rd never fail. So a client that retries the same URL at least three
times always succeeds, and a run with the same seed and request order sees the same faults. A query parameter
``fault=<kind>`` forces that fault on every attempt (and is not part of the key).
"""

from __future__ import annotations

import hashlib
import math
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from galssl.errors import ConfigError

FAULT_KINDS: tuple[str, ...] = ("error500", "error503", "rate429", "timeout", "slow", "truncated", "corrupt", "reset")
FAILING_ATTEMPTS = 3
"""Attempts of one request key that may fail at random; later attempts always succeed."""


@dataclass(frozen=True)
class FaultPlan:
    """How often and how the server fails: ``rate`` in [0, 1] per eligible attempt; times in seconds."""

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    retry_after_s: float = 1.0
    slow_s: float = 2.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ConfigError(f"fault rate must be between 0 and 1 (got {self.rate})")
        unknown = [kind for kind in self.kinds if kind not in FAULT_KINDS]
        if unknown:
            raise ConfigError(f"unknown fault kind {unknown[0]!r} (allowed: {', '.join(FAULT_KINDS)})")
        if self.rate > 0 and not self.kinds:
            raise ConfigError("fault kinds must not be empty when the fault rate is > 0")
        if self.retry_after_s < 0 or self.slow_s < 0:
            raise ConfigError(f"retry_after_s and slow_s must be >= 0 (got {self.retry_after_s}, {self.slow_s})")


@dataclass
class FaultInjector:
    """Counts requests (thread-safe) and decides which of them fail, following a ``FaultPlan``."""

    plan: FaultPlan = field(default_factory=FaultPlan)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _attempts: dict[str, int] = field(default_factory=dict, repr=False)
    _requests: int = 0
    _by_kind: dict[str, int] = field(default_factory=dict, repr=False)

    def decide(self, key: str, forced: str | None = None) -> str | None:
        """Count one request and return the fault kind to inject, or None to answer normally."""
        if forced is not None and forced not in FAULT_KINDS:
            raise ConfigError(f"unknown fault {forced!r} (allowed: {', '.join(FAULT_KINDS)})")
        with self._lock:
            self._requests += 1
            attempt = self._attempts.get(key, 0) + 1
            self._attempts[key] = attempt
            kind = forced if forced is not None else self._draw(key, attempt)
            if kind is not None:
                self._by_kind[kind] = self._by_kind.get(kind, 0) + 1
        return kind

    def _draw(self, key: str, attempt: int) -> str | None:
        plan = self.plan
        if plan.rate <= 0 or attempt > FAILING_ATTEMPTS:
            return None
        digest = hashlib.blake2b(f"{plan.seed}|{key}|{attempt}".encode(), digest_size=16).digest()
        uniform = int.from_bytes(digest[:8], "little") / 2.0**64
        if uniform >= plan.rate:
            return None
        return plan.kinds[int.from_bytes(digest[8:], "little") % len(plan.kinds)]

    @property
    def stats(self) -> dict[str, object]:
        """Snapshot: total requests, total faults injected, faults by kind."""
        with self._lock:
            return {"requests": self._requests, "faults": sum(self._by_kind.values()), "by_kind": dict(self._by_kind)}


def send_error_fault(handler: BaseHTTPRequestHandler, kind: str, plan: FaultPlan) -> None:
    """Answer with the HTTP error of ``kind`` (error500, error503, rate429)."""
    status, message, headers = {
        "error500": (500, "internal server error (injected fault)", {}),
        "error503": (503, "service temporarily unavailable (injected fault)", {}),
        "rate429": (429, "too many requests, slow down (injected fault)",
                    {"Retry-After": str(int(math.ceil(plan.retry_after_s)))}),
    }[kind]
    body = (message + "\n").encode("utf-8")
    handler.send_response(status)
    handler.send_header("Content-Type", "text/plain; charset=utf-8")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def reset_connection(handler: BaseHTTPRequestHandler) -> None:
    """Make the server close the socket with RST and no response (linger 0)."""
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.close_connection = True


def pause(plan: FaultPlan) -> None:
    """The ``slow``/``timeout`` fault: wait before answering."""
    time.sleep(plan.slow_s)


def corrupt_bytes(body: bytes, key: str) -> bytes:
    """Garbage of the same length as ``body``, the same for the same key (no valid FITS, bz2 or CSV)."""
    out = bytearray()
    counter = 0
    while len(out) < len(body):
        out += hashlib.blake2b(f"corrupt|{key}|{counter}".encode(), digest_size=64).digest()
        counter += 1
    # A zero first byte is never the start of FITS ('S'), bz2 ('B'), CSV or JSON text.
    return (b"\0" + bytes(out[1:len(body)])) if body else b""


def truncated_length(body: bytes) -> int:
    """How many bytes a ``truncated`` fault sends: half the body (at least one byte short of it)."""
    return max(0, min(len(body) // 2, len(body) - 1))
