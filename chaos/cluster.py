"""The harness's HTTP client: any live replica, retries, and an `Idempotency-Key` on every POST.

A client of a service that runs in replicas behind no load balancer does what a load balancer and a careful
client would: it takes the replicas in turn, and when one does not answer (connection refused or reset, a
timeout) or answers 5xx / 503, it waits a little and tries the next. A POST carries an `Idempotency-Key` made
once per logical call and reused by every retry, so a retry after a lost answer gets the first answer back
instead of creating a second order, payment, appeal or refund (shared/platform/idempotency.py). A 409
`idempotency_key_in_use` means the first attempt is still running somewhere: it is retried as well.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from devstack.stack import SERVICES, Stack

RETRYABLE = {500, 502, 503, 504}


class Caller(Protocol):
    async def headers(self) -> dict[str, str]: ...


class Refused(AssertionError):
    """The suite answered something a step does not expect (not an outage: a wrong answer)."""


class GaveUp(RuntimeError):
    """No replica gave a usable answer within the call's deadline."""


@dataclass
class Cluster:
    stack: Stack
    http: httpx.AsyncClient
    deadline: float = 600.0  # a call outlasts any single fault of the matrix
    retries: Counter[str] = field(default_factory=Counter)  # why calls were retried: "connect", "503", ...
    calls: int = 0
    posting: Counter[str] = field(default_factory=Counter)  # POSTs in flight per replica URL (the faults aim)

    def __post_init__(self) -> None:
        self._turns = {s: itertools.cycle(self.stack.urls(s)) for s in SERVICES}

    async def call(
        self,
        method: str,
        service: str,
        path: str,
        who: Caller | None,
        *,
        expect: int | set[int] = 200,
        absent: set[int] | None = None,
        deadline: float | None = None,
        **kw: Any,
    ) -> Any:
        """The answer's JSON (None when empty, or when the status is one of `absent`). Retried on any replica
        until `deadline` seconds have passed."""
        wanted = {expect} if isinstance(expect, int) else expect
        headers: dict[str, str] = dict(kw.pop("headers", {}))
        if method == "POST":
            headers.setdefault(
                "Idempotency-Key", uuid.uuid4().hex
            )  # one key for all the retries of this call
        if "files" in kw:
            # A multipart body gets a random boundary each time it is encoded: encoded once, every retry sends
            # the same bytes, as the Idempotency-Key requires (another body under the key is a 422).
            encoded = httpx.Request(method, "http://x", files=kw.pop("files"), data=kw.pop("data", None))
            kw["content"] = encoded.read()
            headers["Content-Type"] = encoded.headers["Content-Type"]
        give_up = time.monotonic() + (deadline or self.deadline)
        attempt, last = 0, ""
        while True:
            attempt += 1
            base = next(self._turns[service])
            try:
                auth = await who.headers() if who is not None else {}
                self.calls += 1
                self.posting[base] += method == "POST"
                try:
                    resp = await self.http.request(method, base + path, headers={**auth, **headers}, **kw)
                finally:
                    self.posting[base] -= method == "POST"
            except httpx.TransportError as exc:
                why, last = type(exc).__name__, f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code in wanted:
                    return resp.json() if resp.content else None
                if absent and resp.status_code in absent:
                    return None
                if resp.status_code in RETRYABLE or _in_use(resp):
                    why, last = str(resp.status_code), f"{resp.status_code} {resp.text[:300]}"
                else:
                    raise Refused(f"{method} {service}{path}: {resp.status_code} {resp.text[:500]}")
            self.retries[why] += 1
            if time.monotonic() > give_up:
                raise GaveUp(
                    f"{method} {service}{path}: no usable answer after {attempt} attempts; last: {last}"
                )
            # The other replica at once on the first failure, then back off (with jitter) while both are away.
            await asyncio.sleep(
                0 if attempt == 1 else min(5.0, 0.2 * 2 ** min(attempt, 5)) * random.uniform(0.5, 1)
            )

    async def find(self, service: str, path: str, who: Caller, **kw: Any) -> Any:
        """A resource, or None while it does not exist yet (404)."""
        return await self.call("GET", service, path, who, absent={404}, **kw)

    async def eventually(self, what: str, probe: Any, *, within: float, interval: float = 0.5) -> Any:
        """Poll `probe()` until it returns something truthy; GaveUp after `within` seconds."""
        end = time.monotonic() + within
        while True:
            value = await probe()
            if value:
                return value
            if time.monotonic() > end:
                raise GaveUp(f"{what}: not reached within {within:.0f}s; last value: {value!r}"[:500])
            await asyncio.sleep(interval * random.uniform(0.8, 1.2))


def _in_use(resp: httpx.Response) -> bool:
    """409 from the idempotency middleware: an earlier attempt with this key is still running."""
    if resp.status_code != 409:
        return False
    try:
        return bool(resp.json()["detail"]["code"] == "idempotency_key_in_use")
    except (ValueError, KeyError, TypeError):
        return False
