"""Traces end to end: orders and notification as separate processes with tracing on (`OTEL_TRACES_EXPORTER=otlp`),
exporting OTLP/HTTP to a small collector this test runs. One trace goes from the HTTP pay call, through the
outbox relay's publish and Kafka, to notification's handling of `order.paid` and the e-mail it sends."""

from __future__ import annotations

import gzip
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from devstack.marketplace import Suite, eventually
from devstack.stack import Ports, Stack
from tests.conftest import Infra


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent: str
    attributes: dict[str, Any]
    links: tuple[str, ...]  # the trace ids it links to


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


@dataclass
class Collector:
    """An OTLP/HTTP traces receiver: decodes each export request (protobuf) and keeps its spans."""

    spans: list[Span] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def receive(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for s in scope_spans.spans:
                    received.append(
                        Span(
                            service=str(resource.get("service.name")),
                            name=s.name,
                            trace_id=s.trace_id.hex(),
                            span_id=s.span_id.hex(),
                            parent=s.parent_span_id.hex(),
                            attributes={a.key: _value(a.value) for a in s.attributes},
                            links=tuple(link.trace_id.hex() for link in s.links),
                        )
                    )
        with self.lock:
            self.spans.extend(received)

    def trace(self, trace_id: str) -> list[Span]:
        with self.lock:
            return [s for s in self.spans if s.trace_id == trace_id]

    def find(self, **match: Any) -> list[Span]:
        with self.lock:
            return [s for s in self.spans if all(_matches(s, k, v) for k, v in match.items())]


def _matches(span: Span, key: str, value: Any) -> bool:
    if key in {"service", "name", "trace_id"}:
        return bool(getattr(span, key) == value)
    return bool(span.attributes.get(key) == value)


@pytest.fixture(scope="module")
def collector() -> Iterator[tuple[Collector, str]]:
    received = Collector()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            received.receive(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="otlp-collector", daemon=True)
    thread.start()
    try:
        yield received, f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def stack(
    infra: Infra, tmp_path_factory: pytest.TempPathFactory, collector: tuple[Collector, str]
) -> Iterator[Stack]:
    """The sinks, orders and notification, exporting their spans to the collector."""
    env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": collector[1],
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # the SDK's batch export interval (ms): spans arrive while we wait
        "ORDERS_RELAY_POLL_SECONDS": "0.2",
        "NOTIFICATION_RELAY_POLL_SECONDS": "0.2",
        "NOTIFICATION_DISPATCH_POLL_SECONDS": "0.2",
        "NOTIFICATION_RATE_LIMIT_SMS": "0",
    }
    s = Stack(
        tmp_path_factory.mktemp("e2e-traces"),
        Ports.free(),
        namespace=f"t{uuid.uuid4().hex[:8]}",
        service_env=env,
    ).using(infra.stack)
    try:
        s.provision()
        s.start_sinks()
        s.start_service("orders")
        s.start_service("notification")
        yield s
    finally:
        s.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.mark.timeout(360)  # it starts a stack of its own (sinks, orders, notification) besides the session's
async def test_one_trace_from_the_pay_call_to_the_email_send(
    stack: Stack, collector: tuple[Collector, str], infra: Infra, http: httpx.AsyncClient
) -> None:
    spans = collector[0]
    buyer, merchant, operator = [await infra.idp.user(r) for r in ("buyer", "merchant", "operator")]
    shop = Suite({"orders": stack.url("orders")}, http)
    await shop.profile(buyer, "+8613800001234")
    await shop.profile(merchant, "+8613800005678")
    product = await shop.list_product(
        merchant,
        operator,
        specifications=[
            {"spec_id": "std", "name": "Standard", "billing_mode": "one_time", "price": "100.00"}
        ],
    )
    order = await shop.order(buyer, product["product_id"])
    await shop.pay(infra.idp.payment, order)

    # The pay request's server span (FastAPI instrumentation), with the order's id in its path.
    [pay] = await eventually(
        lambda: _found(spans.find(service="orders", **{"http.route": "/orders/{order_id}/pay"})),
        what="the pay request's span",
    )
    mail = await eventually(
        lambda: _found(
            [s for s in spans.trace(pay.trace_id) if s.service == "notification" and s.name == "send email"]
        ),
        timeout=60,
        what="the e-mail send's span in the pay call's trace",
    )
    assert await stack.mailbox(http).messages(buyer.email)  # the send the span stands for did happen
    in_trace = spans.trace(pay.trace_id)
    by_name = {(s.service, s.name) for s in in_trace}
    topic = f"{stack.namespace}.order.paid"
    assert ("orders", f"{topic} publish") in by_name  # the relay's publish of the outbox row
    assert ("notification", "handle order.paid") in by_name  # the consumer, in the event's own trace
    assert {s.attributes.get("koo.channel") for s in mail} == {"email"}
    assert all(s.attributes.get("koo.event_type") == "order.paid" for s in mail)
    # The batch subscriber (several records at once) starts a trace of its own whose first span (FastStream's
    # `create`) links to each record's trace.
    batch = spans.find(service="notification", name=f"{topic} create")
    assert any(pay.trace_id in s.links for s in batch), batch
    # The dispatcher's round links to each delivery's trace; the send hangs under the event's handling.
    handled = {s.span_id for s in in_trace if s.name == "handle order.paid"}
    # (The round's span ends after its sends are recorded, so it may be exported a little later.)
    await eventually(
        lambda: _found(
            [
                r
                for r in spans.find(service="notification", name="notification dispatch")
                if pay.trace_id in r.links
            ]
        ),
        what="the dispatcher round's span linking the pay call's trace",
    )
    assert all(_descends(m, in_trace, handled) for m in mail)


async def _found(found: list[Span]) -> list[Span] | None:
    return found or None


def _descends(span: Span, trace: list[Span], ancestors: set[str]) -> bool:
    by_id = {s.span_id: s for s in trace}
    parent = span.parent
    while parent:
        if parent in ancestors:
            return True
        parent = by_id[parent].parent if parent in by_id else ""
    return False
