"""What a service tells Prometheus: `GET /metrics` in the text format, on the service's HTTP port.

The series, named once here (the alerts and dashboards in deploy/k8s match these names):

- HTTP: `http_requests_total{service,method,route,status}` and `http_request_duration_seconds{service,method,
  route}`, by route *template* (`/orders/{order_id}`), never the raw path, so ids never become labels;
- consumers: FastStream's own Prometheus middleware (`faststream_*`), installed on the broker;
- `koo_outbox_pending{service}`: outbox rows not yet published, counted when scraped;
- `koo_inbox_duplicates_total{service,consumer}`: consumed events whose id the inbox already held;
- `koo_dead_letters_total{service,topic}`: records sent to `<topic>.dlt`, by the topic they came from;
- `koo_deliveries_total{service,channel,provider,result}`: notification's sends (sent, failed, dead,
  deferred);
- `koo_worker_up{service,worker}` and `koo_worker_quarantined{service,worker}`: the leased workers, read from
  the running service when scraped;
- `koo_token_verification_failures_total{service,reason}`: bearer tokens refused (or not verifiable);
- the process's own (`process_*`, `python_info`).

The counters live in one registry per process, created once at import: building a second app in the same
process (tests do) reuses them, and a service's label keeps apps apart. What is read from a running app (the
outbox, the workers) is collected per app, from its own runtime, when `/metrics` is scraped.
The route needs no token: the NetworkPolicy lets only the monitoring namespace reach it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("metrics")

# Counters and histograms without their `_created` twins: one series each, as the names above say.
disable_created_metrics()  # type: ignore[no-untyped-call]

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

HTTP_REQUESTS = Counter(
    "http_requests",
    "HTTP requests answered, by route template and status.",
    ["service", "method", "route", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["service", "method", "route"],
    registry=REGISTRY,
)
INBOX_DUPLICATES = Counter(
    "koo_inbox_duplicates",
    "Consumed events whose id the consumer's inbox already held (redeliveries); they changed nothing.",
    ["service", "consumer"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "koo_dead_letters",
    "Records sent to a dead-letter topic, by the topic they were consumed from.",
    ["service", "topic"],
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "koo_deliveries",
    "E-mail and SMS sends by channel, provider and result (sent, failed, dead, deferred).",
    ["service", "channel", "provider", "result"],
    registry=REGISTRY,
)
TOKEN_FAILURES = Counter(
    "koo_token_verification_failures",
    "Bearer tokens refused, or not verifiable (issuer unavailable), by reason.",
    ["service", "reason"],
    registry=REGISTRY,
)

DELIVERY_RESULTS = frozenset({"sent", "failed", "dead", "deferred"})
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OUTBOX_WAIT = 2.0  # seconds a scrape waits for the outbox count (Prometheus times out at 10 s by default)
UNMATCHED = "unmatched"  # a path no route serves: one label value, whatever was asked for


# --- what the platform and the services count -------------------------------------------------------------


def inbox_duplicates(service: str, consumer: str, count: int = 1) -> None:
    if count > 0:
        INBOX_DUPLICATES.labels(service, consumer).inc(count)


def dead_lettered(service: str, topic: str) -> None:
    DEAD_LETTERS.labels(service, topic).inc()


def delivery(service: str, channel: str, provider: str, result: str) -> None:
    if result not in DELIVERY_RESULTS:
        raise ValueError(f"a delivery's result is one of {sorted(DELIVERY_RESULTS)}, not {result!r}")
    DELIVERIES.labels(service, channel, provider, result).inc()


def token_rejected(app: Any, reason: str) -> None:
    """A refused bearer token, counted for the service whose app refused it."""
    TOKEN_FAILURES.labels(service_of(app), reason).inc()


def service_of(app: Any) -> str:
    """The service an app was instrumented for (`install`), else its title."""
    return str(getattr(app.state, "metrics_service", None) or getattr(app, "title", "") or "unknown")


def consumer_metrics(service: str) -> KafkaPrometheusMiddleware:
    """FastStream's Prometheus middleware for a service's broker: received, processed (by status), in
    process, durations and sizes per handler, and publishes per destination (the relay's too), with the
    service's name as `app_name` and as `service`."""
    return KafkaPrometheusMiddleware(registry=REGISTRY, app_name=service, custom_labels={"service": service})


# --- HTTP -------------------------------------------------------------------------------------------------


def route_of(scope: Scope) -> str:
    """The template of the route that answered (or would have: a stored Idempotency-Key answer is replayed
    before routing), else `unmatched`."""
    route = scope.get("route")
    if route is None and "app" in scope:
        for candidate in _routes(getattr(scope["app"], "routes", ())):
            match, _ = candidate.matches(scope)
            if match is Match.FULL:
                route = candidate
                break
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


def _routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Every route, those of included routers too (FastAPI keeps an included router as one entry that holds
    the original router; each of its routes has its router's prefix in its path)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes)
        else:
            yield route


class HttpMetrics:
    """Counts and times every HTTP request (pure ASGI: the response streams through untouched). The status is
    the one sent; a request that raised before answering is a 500, as the server answers it."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sent(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            route = route_of(scope)
            HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
            HTTP_DURATION.labels(self.service, method, route).observe(time.perf_counter() - started)


# --- what is read from the running service when scraped ---------------------------------------------------


@dataclass
class WorkerState:
    name: str
    alive: bool
    quarantined: int


@dataclass
class Snapshot:
    """The running service as one scrape sees it."""

    service: str
    outbox_pending: int | None = None  # None: not known (the database did not answer in time)
    workers: list[WorkerState] = field(default_factory=list)


class RuntimeCollector(Collector):
    """Yields the gauges of the last snapshot taken (`/metrics` takes one, then renders at once)."""

    def __init__(self, service: str) -> None:
        self.snapshot = Snapshot(service)

    def collect(self) -> Iterable[Metric]:
        s = self.snapshot
        if s.outbox_pending is not None:
            pending = GaugeMetricFamily(
                "koo_outbox_pending", "Outbox rows not yet published.", labels=["service"]
            )
            pending.add_metric([s.service], s.outbox_pending)
            yield pending
        up = GaugeMetricFamily(
            "koo_worker_up",
            "A background worker's task is alive (1) or dead (0).",
            labels=["service", "worker"],
        )
        quarantined = GaugeMetricFamily(
            "koo_worker_quarantined",
            "Items a background worker gave up on after its attempts (an operator looks at them).",
            labels=["service", "worker"],
        )
        for w in s.workers:
            up.add_metric([s.service, w.name], 1.0 if w.alive else 0.0)
            quarantined.add_metric([s.service, w.name], w.quarantined)
        yield up
        yield quarantined


async def snapshot(service: str, runtime: Any) -> Snapshot:
    """Read the outbox backlog (one count, within OUTBOX_WAIT seconds) and the workers' health from a runtime
    (shared.platform.runtime.Runtime; None before the lifespan started it)."""
    shot = Snapshot(service)
    if runtime is None:
        return shot
    shot.workers = [_worker_state(w) for w in runtime.workers]
    with contextlib.suppress(Exception):  # the database away: the backlog is unknown, not zero
        shot.outbox_pending = int(await asyncio.wait_for(runtime.relay.pending(), OUTBOX_WAIT))
    return shot


def _worker_state(worker: Any) -> WorkerState:
    health = worker.health()
    return WorkerState(str(worker.name), bool(health.alive), int(health.quarantined))


def exposition(registries: Sequence[CollectorRegistry]) -> bytes:
    """The registries' series in the classic text format (0.0.4), which every Prometheus reads; OpenMetrics,
    whose one `# EOF` ends a whole document, would not let two registries be joined."""
    return b"".join(generate_latest(r) for r in registries)


def install(app: FastAPI, service: str) -> None:
    """Instrument `app`'s HTTP requests and serve `GET /metrics` (out of the OpenAPI document: it is not part
    of the service's API, and needs no token)."""
    app.state.metrics_service = service
    app.add_middleware(HttpMetrics, service=service)
    collector = RuntimeCollector(service)
    own = CollectorRegistry(auto_describe=False)
    own.register(collector)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        collector.snapshot = await snapshot(service, getattr(request.app.state, "runtime", None))
        return Response(exposition([REGISTRY, own]), media_type=CONTENT_TYPE_PLAIN_0_0_4)
