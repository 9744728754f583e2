"""`/metrics`: HTTP requests by route template, the runtime's gauges read when scraped, refused tokens by
reason, inbox duplicates counted once the work succeeds, and apps built twice in one process."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from prometheus_client.parser import text_string_to_metric_families

from shared.platform import metrics
from shared.platform.auth import Caller
from shared.platform.fakes import FakeState, FakeUnitOfWork
from shared.platform.http import install_security
from shared.platform.mongo import UnitOfWorkFactory
from shared.platform.repository import ConcurrentUpdate
from shared.platform.worker import Health
from tests import tokens
from tests.factories import order_paid, parties, rid

AUD = "koo-orders"


def value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def scraped(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample of an exposition by its name: parsing it also proves the text is valid."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
    return out


def _app(service: str) -> FastAPI:
    router = APIRouter()

    @router.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"thing_id": thing_id}

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    @router.get("/me")
    async def me(caller: Caller) -> dict[str, str]:
        return {"account_id": caller.account_id}

    accounts = APIRouter(prefix="/accounts/{account_id}")

    @accounts.post("/notes")
    async def note(account_id: str) -> dict[str, str]:
        return {}

    app = FastAPI(title=service)
    app.include_router(router)
    app.include_router(accounts)
    install_security(app, tokens.verifier(AUD))
    metrics.install(app, service)
    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://svc")


async def test_requests_are_counted_by_route_template_never_by_raw_path() -> None:
    service = rid("svc")
    async with client(_app(service)) as http:
        for thing in ("a-1", "b-2", "c-3"):
            assert (await http.get(f"/things/{thing}")).status_code == 200
        assert (await http.get("/no/such/path/9")).status_code == 404
        assert (await http.post("/accounts/a-1/notes")).status_code == 200
        assert (await http.get("/boom")).status_code == 500
        assert (await http.request("BREW", "/things/x")).status_code == 405
        text = (await http.get("/metrics")).text

    assert (
        value("http_requests_total", service=service, method="GET", route="/things/{thing_id}", status="200")
        == 3
    )
    assert value("http_requests_total", service=service, method="GET", route="unmatched", status="404") == 1
    notes = {"service": service, "method": "POST", "route": "/accounts/{account_id}/notes", "status": "200"}
    assert value("http_requests_total", **notes) == 1
    assert value("http_requests_total", service=service, method="GET", route="/boom", status="500") == 1
    # an unknown method is one label value, whatever a caller sends
    assert (
        value(
            "http_requests_total", service=service, method="other", route="/things/{thing_id}", status="405"
        )
        == 1
    )
    assert (
        value(
            "http_request_duration_seconds_count", service=service, method="GET", route="/things/{thing_id}"
        )
        == 3
    )
    series = scraped(text)
    routes = {labels["route"] for labels, _ in series["http_requests_total"] if labels["service"] == service}
    assert not any("a-1" in r or "b-2" in r for r in routes)
    assert "process_resident_memory_bytes" in series


async def test_the_metrics_route_needs_no_token_and_stays_out_of_the_openapi_document() -> None:
    app = _app(rid("svc"))
    async with client(app) as http:
        resp = await http.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "/metrics" not in app.openapi()["paths"]


async def test_an_app_built_twice_in_one_process_keeps_counting_in_the_same_series() -> None:
    service = rid("svc")
    for _ in range(2):
        async with client(_app(service)) as http:
            await http.get("/things/x")
    metrics.consumer_metrics(service)
    metrics.consumer_metrics(service)  # FastStream's series are registered once and shared
    assert (
        value("http_requests_total", service=service, method="GET", route="/things/{thing_id}", status="200")
        == 2
    )


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"expires_in": -120}, "expired"),
        ({"audience": "koo-partner"}, "audience"),
        ({"issuer": "https://evil.test/realms/koogallery"}, "issuer"),
        ({"kid": "someone-elses-key"}, "unknown_key"),
    ],
)
async def test_a_refused_token_is_counted_by_reason(claims: dict[str, Any], reason: str) -> None:
    service = rid("svc")
    app = _app(service)
    token = tokens.token("acc-1", "buyer", **{"audience": AUD, **claims})
    async with client(app) as http:
        assert (await http.get("/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
        assert (await http.get("/me", headers={"Authorization": "Bearer not-a-jwt"})).status_code == 401
        assert (await http.get("/me")).status_code == 401  # no token at all: not a token refused
        assert (
            await http.get("/me", headers=tokens.bearer("acc-1", "buyer", audience=AUD))
        ).status_code == 200
    assert value("koo_token_verification_failures_total", service=service, reason=reason) == 1
    assert value("koo_token_verification_failures_total", service=service, reason="malformed") == 1
    assert value("koo_token_verification_failures_total", service=service, reason="missing") == 0


@dataclass
class FakeWorker:
    name: str
    alive: bool
    quarantined: int

    def health(self) -> Health:
        return Health(self.name, self.alive, True, None, None, self.quarantined, 0)


class FakeRelay:
    def __init__(self, pending: int | None) -> None:
        self._pending = pending

    async def pending(self) -> int:
        if self._pending is None:
            raise TimeoutError("the database is away")
        return self._pending


@dataclass
class FakeRuntime:
    relay: FakeRelay
    workers: list[FakeWorker]


async def test_the_outbox_backlog_and_the_workers_are_read_from_the_running_service_when_scraped() -> None:
    service = rid("svc")
    app = _app(service)
    app.state.runtime = FakeRuntime(
        FakeRelay(7), [FakeWorker(f"outbox-relay:{service}", True, 0), FakeWorker("dispatcher", False, 2)]
    )
    async with client(app) as http:
        first = scraped((await http.get("/metrics")).text)
        app.state.runtime.relay = FakeRelay(0)
        app.state.runtime.workers[1].alive = True
        second = scraped((await http.get("/metrics")).text)

    assert first["koo_outbox_pending"] == [({"service": service}, 7.0)]
    assert sorted((labels["worker"], v) for labels, v in first["koo_worker_up"]) == [
        ("dispatcher", 0.0),
        (f"outbox-relay:{service}", 1.0),
    ]
    assert ({"service": service, "worker": "dispatcher"}, 2.0) in first["koo_worker_quarantined"]
    assert second["koo_outbox_pending"] == [({"service": service}, 0.0)]
    assert ({"service": service, "worker": "dispatcher"}, 1.0) in second["koo_worker_up"]


async def test_a_database_that_does_not_answer_leaves_the_backlog_unknown_not_zero() -> None:
    app = _app(rid("svc"))
    app.state.runtime = FakeRuntime(FakeRelay(None), [FakeWorker("w", True, 0)])
    async with client(app) as http:
        series = scraped((await http.get("/metrics")).text)
    assert "koo_outbox_pending" not in series
    assert series["koo_worker_up"][0][1] == 1.0


async def test_before_the_lifespan_only_the_process_series_are_there() -> None:
    async with client(_app(rid("svc"))) as http:
        series = scraped((await http.get("/metrics")).text)
    assert "koo_worker_up" not in series
    assert "process_cpu_seconds_total" in series


async def test_a_redelivered_event_is_counted_once_per_consumer_as_a_duplicate() -> None:
    service, state, event = rid("svc"), FakeState(), order_paid(parties())
    uow = UnitOfWorkFactory(lambda: FakeUnitOfWork(state), attempts=3, service=service)

    async def work(u: FakeUnitOfWork) -> str:
        await u.commit()
        return "done"

    assert await uow.handle("orders", event, work) == "done"
    assert value("koo_inbox_duplicates_total", service=service, consumer="orders") == 0
    assert await uow.handle("orders", event, work) is None
    assert await uow.handle("orders", event, work) is None
    assert value("koo_inbox_duplicates_total", service=service, consumer="orders") == 2


async def test_duplicates_of_an_attempt_that_was_rerun_are_not_counted_twice() -> None:
    service, state, event = rid("svc"), FakeState(), order_paid(parties())
    uow = UnitOfWorkFactory(lambda: FakeUnitOfWork(state), attempts=3, service=service)
    await uow.handle("c", event, lambda u: u.commit())
    conflicts = [ConcurrentUpdate("lost a race")]

    async def batch(u: FakeUnitOfWork, e: Any) -> None:
        if conflicts:
            raise conflicts.pop()

    fresh = order_paid(parties())
    await uow.handle_batch("c", [event, fresh, fresh], batch)  # first attempt rerun; the second succeeds
    # `event` was processed before, `fresh` came twice in the batch: two duplicates, counted once
    assert value("koo_inbox_duplicates_total", service=service, consumer="c") == 2


def test_a_delivery_result_outside_the_four_is_a_bug() -> None:
    with pytest.raises(ValueError, match="sent"):
        metrics.delivery("notification", "email", "primary", "lost")


async def test_concurrent_scrapes_each_see_a_whole_snapshot() -> None:
    service = rid("svc")
    app = _app(service)
    app.state.runtime = FakeRuntime(FakeRelay(3), [FakeWorker("w", True, 0)])
    async with client(app) as http:
        pages = await asyncio.gather(*(http.get("/metrics") for _ in range(5)))
    for page in pages:
        assert scraped(page.text)["koo_outbox_pending"] == [({"service": service}, 3.0)]


def test_a_request_answered_before_routing_is_still_labelled_with_its_route_template() -> None:
    """A stored Idempotency-Key answer is replayed before the router sets the scope's route."""
    app = _app(rid("svc"))
    scope = {"type": "http", "method": "GET", "path": "/things/t-9", "root_path": "", "app": app}
    assert metrics.route_of(scope) == "/things/{thing_id}"
    note = {**scope, "method": "POST", "path": "/accounts/a-1/notes"}
    assert metrics.route_of(note) == "/accounts/{account_id}/notes"
    assert metrics.route_of({**scope, "path": "/elsewhere"}) == "unmatched"
