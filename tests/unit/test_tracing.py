"""Traces: settings that choose the exporter, and the helpers that carry a `traceparent` through the outbox,
a batch of consumed events and a round of sends (shared/platform/tracing.py). Spans go to an in-memory
exporter of a provider of the test's own: the process's global provider is left alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import ValidationError

from shared.platform import tracing
from shared.platform.mongo import UnitOfWork, outbox_document
from shared.platform.settings import ServiceSettings
from shared.schemas import OrderPaid
from tests import factories as f

ROOT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
OTHER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def settings(**env: Any) -> ServiceSettings:
    return ServiceSettings(service_name="orders", **env)


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_tracer", provider.get_tracer("test"))
    yield exporter
    provider.shutdown()


def paid() -> OrderPaid:
    return f.order_paid(f.parties())


def trace_id(traceparent: str) -> int:
    return int(traceparent.split("-")[1], 16)


def named(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    [span] = [s for s in exporter.get_finished_spans() if s.name == name]
    return span


def test_tracing_is_off_unless_configured() -> None:
    off = settings()
    assert off.traces_exporter == "none"
    assert tracing.setup(off) is None
    assert tracing.kafka_middlewares(off) == []
    assert tracing.current_traceparent() is None
    assert tracing.fields() == {}


def test_otlp_needs_the_collector_url() -> None:
    with pytest.raises(ValidationError, match="OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        settings(OTEL_TRACES_EXPORTER="otlp")
    on = settings(
        OTEL_TRACES_EXPORTER="otlp", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://collector:4318/v1/traces"
    )
    provider = tracing.provider(on)
    try:
        assert provider.resource.attributes["service.name"] == "orders"
        assert [type(m).__name__ for m in tracing.kafka_middlewares(on)] == ["KafkaTelemetryMiddleware"]
    finally:
        provider.shutdown()
    console = tracing.provider(settings(OTEL_TRACES_EXPORTER="console"))
    console.shutdown()
    assert [type(p.span_exporter).__name__ for p in console._active_span_processor._span_processors] == [
        "ConsoleSpanExporter"
    ]


def test_an_emitted_event_keeps_the_trace_it_was_emitted_in(spans: InMemorySpanExporter) -> None:
    uow, untraced, traced = UnitOfWork(), paid(), paid()
    uow.emit(untraced)
    with tracing.attached(ROOT):
        uow.emit(traced)
    assert uow.traces == {str(traced.event_id): ROOT}
    row = outbox_document(traced, 1, uow.traces.get(str(traced.event_id)))
    assert row["traceparent"] == ROOT
    assert tracing.carried(row) == {"traceparent": ROOT}
    assert "traceparent" not in outbox_document(untraced, 2)  # rows unchanged with tracing off


def test_each_event_of_a_batch_is_handled_in_its_own_trace(spans: InMemorySpanExporter) -> None:
    first, second, untraced = paid(), paid(), paid()
    headers = [("content-type", b"application/json"), ("traceparent", OTHER.encode())]
    assert tracing.of_headers(headers) == OTHER
    seen: dict[str, str | None] = {}
    with (
        tracing._tracer.start_as_current_span("batch") as batch_span,
        tracing.batch({str(first.event_id): ROOT, str(second.event_id): OTHER, str(untraced.event_id): None}),
    ):
        for event in (first, second, untraced):
            with tracing.handling(str(event.event_id), event.event_type):
                seen[str(event.event_id)] = tracing.current_traceparent()
    assert trace_id(seen[str(first.event_id)] or "") == trace_id(ROOT)
    assert trace_id(seen[str(second.event_id)] or "") == trace_id(OTHER)
    assert trace_id(seen[str(untraced.event_id)] or "") == batch_span.get_span_context().trace_id
    handled = [s for s in spans.get_finished_spans() if s.name == "handle order.paid"]
    assert len(handled) == 2
    assert all(
        [link.context.span_id for link in s.links] == [batch_span.get_span_context().span_id] for s in handled
    )


async def test_a_round_links_every_item_and_each_send_stays_in_its_own_trace(
    spans: InMemorySpanExporter,
) -> None:
    async def sends() -> list[str]:
        sent = []
        for key in ("a", "b", "c"):
            with tracing.item_span(key, f"send {key}", {"koo.channel": "email"}) as span:
                span.set_attribute("koo.provider", "primary")
                sent.append(key)
        return sent

    assert await tracing.round_of(sends(), "dispatch", {"a": ROOT, "b": OTHER, "c": None}) == ["a", "b", "c"]
    round_span = named(spans, "dispatch")
    assert {link.context.trace_id for link in round_span.links} == {trace_id(ROOT), trace_id(OTHER)}
    a, b, c = (named(spans, f"send {k}") for k in "abc")
    assert a.context.trace_id == trace_id(ROOT)
    assert b.context.trace_id == trace_id(OTHER)
    assert a.parent is not None
    assert a.parent.span_id == int(ROOT.split("-")[2], 16)
    assert [link.context.span_id for link in a.links] == [round_span.context.span_id]
    assert c.context.trace_id == round_span.context.trace_id  # no trace of its own: the round's child
    assert a.attributes is not None
    assert a.attributes["koo.channel"] == "email"
    assert a.attributes["koo.provider"] == "primary"


async def test_a_round_of_untraced_items_makes_no_span(spans: InMemorySpanExporter) -> None:
    async def nothing() -> int:
        return 1

    assert await tracing.round_of(nothing(), "dispatch", {"a": None}) == 1
    assert spans.get_finished_spans() == ()
