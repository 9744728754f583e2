"""The four services as separate processes (`python -m services.<name>`) on the real broker and database,
with Mailpit and the Twilio-compatible SMS sink, in a topic namespace of their own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from devstack.stack import SERVICES, Ports, Stack
from tests.conftest import Infra

FAST = {
    # Short backoffs so retries happen within a test; the defaults are minutes for production.
    "NOTIFICATION_DELIVERY_BACKOFF_SECONDS": "0.5",
    "NOTIFICATION_DELIVERY_BACKOFF_MAX_SECONDS": "2",
    "NOTIFICATION_DISPATCH_POLL_SECONDS": "0.2",
    # The stories send every message of an order to one test phone: no per-address SMS limit here (its own
    # integration test shows the default limit defers the sixth SMS).
    "NOTIFICATION_RATE_LIMIT_SMS": "0",
    # Merchant calls give up within a second instead of hours, so a failed call is there to replay.
    "PARTNER_LONG_RETRY_INTERVAL_SECONDS": "0.2",
    "PARTNER_LONG_RETRY_WINDOW_SECONDS": "0.5",
    "PARTNER_SHORT_RETRY_INTERVAL_SECONDS": "0.2",
    "PARTNER_SHORT_RETRY_WINDOW_SECONDS": "0.3",
    "PARTNER_CALL_WORKER_POLL_SECONDS": "0.1",
    **{f"{s.upper()}_RELAY_POLL_SECONDS": "0.2" for s in SERVICES},
    **{f"{s.upper()}_CONSUMER_BACKOFF_SECONDS": "0.1" for s in SERVICES},
}


@pytest.fixture(scope="session")
def e2e(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(
        tmp_path_factory.mktemp("e2e"), Ports.free(), namespace=f"e2e{uuid.uuid4().hex[:8]}", service_env=FAST
    )
    stack.using(infra.stack)
    try:
        stack.start_sinks()
        stack.start_services()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


_STACKS: list[Stack] = []


@pytest.fixture(autouse=True)
def _remember(e2e: Stack) -> None:
    if e2e not in _STACKS:
        _STACKS.append(e2e)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On a failure, attach the tail of every service's log: the processes are gone once the run ends."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for stack in _STACKS:
            for log in sorted(stack.logs.glob("*.log")):
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-60:])
                report.sections.append((f"log tail: {log.name}", tail))
