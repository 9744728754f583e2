"""The fault matrix: what is broken, when, for how long, and how long the suite took to recover.

Faults are scheduled at fractions of the run's span, one after another; some last long enough to overlap the
next one (the SMTP outage a notification replica's crash, the SMS outage a partner replica's crash). A replica
is killed while the harness has a POST in flight at it (it waits up to 15 s for one), so the crash cuts a
request short and the client's retry with the same Idempotency-Key has to come out right. Each fault records
when it started and ended (monotonic seconds) and when the suite was seen to work again. Recovery is measured
from the end of the fault (the restart issued, the process resumed, the outage lifted):
- a killed replica: until it answers /readyz with 200 again;
- the broker or the database: until every replica answers /readyz with 200 and a service order was opened
  after it (orders → Kafka → supervision → its database all work again);
- SMTP or SMS: until Mailpit or the SMS endpoint accepted a message again (the backlog drains from there).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from chaos.story import Progress
from devstack.mailbox import Mailbox
from devstack.stack import SERVICES, Stack, ready, service_of

RECOVERY_BOUND = (
    600.0  # a fault not recovered from within this is reported as such (and the checks will tell)
)


class RecoveryFailed(Exception):
    """What the suite needs to recover is gone for good (a restarted replica exited)."""


@dataclass
class Fault:
    name: str  # what: "kill -9", "broker restart", ...
    target: str  # what it hit: "orders", "supervision, supervision-2", "kafka", ...
    at: float  # planned start, as a fraction of the span
    hold: float = 0.0  # how long it is kept broken, seconds (down time, stall, outage)
    started: float | None = None
    ended: float | None = None
    recovered: float | None = None
    note: str = ""  # how it went (e.g. "killed while serving a POST")
    problem: str = ""  # why it could not be injected or recovered from: fails the run

    @property
    def lasted(self) -> float | None:
        return None if self.started is None or self.ended is None else self.ended - self.started

    @property
    def recovery(self) -> float | None:
        return None if self.ended is None or self.recovered is None else self.recovered - self.ended


def all_recovered(faults: list[Fault]) -> bool:
    """Every fault was injected and recovered from (a note alone, such as "killed while serving a POST", is no
    failure: a run whose kills landed mid-request once failed for that alone)."""
    return all(f.recovered is not None and not f.problem for f in faults)


def matrix(quick: bool) -> list[Fault]:
    """The faults of a run, in order. The quick run holds outages shorter; every kind is injected in both."""
    outage = 25.0 if quick else 60.0
    return [
        Fault("kill -9, restart", "orders", 0.03, hold=3.0),
        Fault("SMTP outage (451 at MAIL FROM)", "mailpit", 0.10, hold=outage),
        Fault("kill -9, restart", "notification-2", 0.14, hold=3.0),
        Fault("broker restart", "kafka", 0.25),
        Fault("kill -9, restart", "supervision", 0.40, hold=3.0),
        Fault("SMS endpoint answering 503", "sms-sink", 0.48, hold=outage),
        Fault("kill -9, restart", "partner-2", 0.52, hold=3.0),
        Fault("database stall (SIGSTOP, SIGCONT)", "secantusdb", 0.65, hold=20.0),
        Fault("database restart", "secantusdb", 0.80),
        Fault("kill -9 both replicas, restart", "supervision, supervision-2", 0.92, hold=5.0),
    ]


@dataclass
class Injector:
    stack: Stack
    http: httpx.AsyncClient
    progress: Progress
    log: Callable[[str], None]
    posting: Counter[str] = field(default_factory=Counter)  # the cluster's POSTs in flight per replica URL
    faults: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.mailbox = Mailbox(self.stack.mail_url, self.http)

    async def run(self, faults: list[Fault], span: float, t0: float) -> None:
        """Inject each fault at its time (t0 + at × span); overlapping ones run side by side."""
        self.faults = faults
        tasks = []
        for fault in faults:
            await asyncio.sleep(max(0.0, t0 + fault.at * span - time.monotonic()))
            tasks.append(asyncio.create_task(self._one(fault, t0), name=f"fault:{fault.name}:{fault.target}"))
        await asyncio.gather(*tasks)

    async def _one(self, fault: Fault, t0: float) -> None:
        fault.started = time.monotonic()
        self.log(f"fault: {fault.name} → {fault.target} at {fault.started - t0:.0f}s")
        try:
            await self._inject(fault)
        except Exception as exc:  # a fault that could not be injected or lifted is reported, never hidden
            fault.problem = f"{type(exc).__name__}: {exc}"[:200]
            self.log(f"fault {fault.name} → {fault.target} failed: {fault.problem}")
        finally:
            fault.ended = fault.ended or time.monotonic()
        recovered = await self._recovery(fault)
        fault.recovered = recovered
        took = "not within the bound" if fault.recovery is None else f"{fault.recovery:.1f}s"
        self.log(
            f"fault: {fault.name} → {fault.target} lifted after {fault.lasted or 0:.1f}s; recovered: {took}"
        )

    # --- injecting ----------------------------------------------------------------------------------------
    async def _inject(self, fault: Fault) -> None:
        s = self.stack
        if fault.name.startswith("kill -9"):
            replicas = [r.strip() for r in fault.target.split(",")]
            if await self._serving_a_post(replicas):
                fault.note = "killed while serving a POST"
            for r in replicas:
                await asyncio.to_thread(s.services[r].kill)
            await asyncio.sleep(fault.hold)
            for r in replicas:
                await asyncio.to_thread(self._restart, r)
        elif fault.name == "broker restart":
            assert s.kafka is not None
            await asyncio.to_thread(s.kafka.stop)
            await asyncio.to_thread(s.kafka.start, s.logs)
        elif fault.name == "database restart":
            assert s.mongo is not None
            await asyncio.to_thread(s.mongo.stop)
            await asyncio.to_thread(s.mongo.start, s.logs)
        elif fault.name.startswith("database stall"):
            assert s.mongo is not None
            assert s.mongo.proc is not None
            pid = s.mongo.proc.pid
            os.killpg(pid, signal.SIGSTOP)
            try:
                await asyncio.sleep(fault.hold)
            finally:
                os.killpg(pid, signal.SIGCONT)
        elif fault.name.startswith("SMTP outage"):
            await self.mailbox.smtp_outage(True)
            try:
                await asyncio.sleep(fault.hold)
            finally:
                await self.mailbox.smtp_outage(False)
        elif fault.name.startswith("SMS endpoint"):
            await self._sms_failing(True)
            try:
                await asyncio.sleep(fault.hold)
            finally:
                await self._sms_failing(False)
        else:
            raise ValueError(f"unknown fault {fault.name}")
        fault.ended = time.monotonic()

    async def _serving_a_post(self, replicas: list[str], within: float = 15.0) -> bool:
        """Wait (a little) for a moment when the harness has a POST in flight at one of the replicas: a crash
        in
        the middle of a request is the one that tests the retry with its Idempotency-Key."""
        urls = [self.stack.replica_url(r) for r in replicas]
        end = time.monotonic() + within
        while time.monotonic() < end:
            if any(self.posting[u] > 0 for u in urls):
                await asyncio.sleep(0.005)  # into the request's handling, past its arrival
                return True
            await asyncio.sleep(0.002)
        return False

    def _restart(self, replica: str) -> None:
        service = service_of(replica)
        index = self.stack.replicas_of(service).index(replica)
        self.stack.start_service(service, wait=False, replica=index)

    async def _sms_failing(self, on: bool) -> None:
        resp = await self.http.post(f"{self.stack.sms_url}/_control/sms", json={"failing": on, "status": 503})
        resp.raise_for_status()

    # --- recovery -----------------------------------------------------------------------------------------
    async def _recovery(self, fault: Fault) -> float | None:
        assert fault.ended is not None
        end = fault.ended
        if fault.name.startswith("kill -9"):
            replicas = [r.strip() for r in fault.target.split(",")]
            return await self._until(lambda: self._ready(replicas, fault))
        if fault.name.startswith("SMTP"):
            return await self._until(lambda: self._mail_after(end))
        if fault.name.startswith("SMS"):
            return await self._until(lambda: self._sms_after(end))
        every = [r for s in SERVICES for r in self.stack.replicas_of(s)]
        ok = await self._until(lambda: self._ready(every))
        if ok is None:
            return None
        return await self._until(lambda: self._seen_after("service_order", end))

    async def _until(self, probe: Callable[[], Awaitable[bool]]) -> float | None:
        deadline = time.monotonic() + RECOVERY_BOUND
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError, OSError, ValueError, KeyError):
                try:
                    if await probe():
                        return time.monotonic()
                except RecoveryFailed:
                    return None
            await asyncio.sleep(0.2)
        return None

    async def _ready(self, replicas: list[str], fault: Fault | None = None) -> bool:
        """Every replica answers /readyz with 200. A restarted replica whose process exited will never answer:
        that ends the wait at once (RecoveryFailed), noted on the fault."""
        if fault is not None and (dead := [r for r in replicas if not self.stack.services[r].alive()]):
            fault.problem = f"{', '.join(dead)} exited after the restart"
            raise RecoveryFailed(fault.problem)
        urls = [f"{self.stack.replica_url(r)}/readyz" for r in replicas]
        answers = await asyncio.gather(*(asyncio.to_thread(ready, u) for u in urls))
        return all(answers)

    async def _seen_after(self, what: str, t: float) -> bool:
        return self.progress.first_after(what, t) is not None

    async def _mail_after(self, t: float) -> bool:
        page: Any = (
            await self.http.get(f"{self.stack.mail_url}/api/v1/messages", params={"limit": 1})
        ).json()
        if not page["messages"]:
            return False
        return _wall_to_mono(datetime.fromisoformat(page["messages"][0]["Created"])) >= t

    async def _sms_after(self, t: float) -> bool:
        rows: Any = (await self.http.get(f"{self.stack.sms_url}/sms", params={"last": 1})).json()
        return bool(rows) and _wall_to_mono(datetime.fromisoformat(rows[-1]["received_at"])) >= t


def _wall_to_mono(at: datetime) -> float:
    """A sink's wall-clock stamp on this process's monotonic clock (same machine, so the offset is exact
    enough)."""
    return time.monotonic() - (datetime.now(UTC) - at).total_seconds()
