"""Traces (OpenTelemetry): one trace from an HTTP call, through the outbox and Kafka, to the consumer and the
e-mail or SMS send it caused.

The trace context travels as a W3C `traceparent`:
- an HTTP request's server span (FastAPI instrumentation, `instrument`) is current while the use case runs;
  `UnitOfWork.emit` keeps its `traceparent` with each event, and the outbox row stores it (mongo.py);
- the relay publishes each row inside the row's context (`attached`): FastStream's Kafka middleware
  (`kafka_middlewares`) makes its publish span a child of it and writes the publish span's `traceparent`
  into the record's headers;
- the consumer's middleware continues the trace from the headers. A batch subscriber's span links every
  record's trace (FastStream), and each event of the batch is handled in a span of its own trace
  (`batch` + `handling`), so what it writes carries its own trace on;
- rows written for later work (a notification's deliveries) store the current `traceparent` (`fields`), and
  the worker that takes a round of them runs one span linking them all (`round_of`) and a span per item in
  the item's own trace (`item_span`).

The exporter is chosen by configuration (`OTEL_TRACES_EXPORTER`: `none`, the default, `otlp` to
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` over HTTP/protobuf, or `console`). With `none` nothing is instrumented:
no middleware, no spans, and no `traceparent` is stored.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

from opentelemetry import context, trace
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.platform.settings import ServiceSettings

T = TypeVar("T")
TRACEPARENT = "traceparent"  # the W3C header, and the field of outbox and delivery rows
_PROPAGATOR = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("koo-suite")  # a proxy: it uses the provider `setup` installs, or none
# A batch of consumed events: each event id's traceparent (from its record's headers), for `handling`.
_BATCH: ContextVar[Mapping[str, str] | None] = ContextVar("trace_batch", default=None)
# A worker's round: the round span's context, and each item's traceparent by key, for `item_span`.
_ROUND: ContextVar[tuple[trace.SpanContext, Mapping[str, str | None]] | None] = ContextVar(
    "trace_round", default=None
)


def enabled(settings: ServiceSettings) -> bool:
    return settings.traces_exporter != "none"


def provider(settings: ServiceSettings) -> Any:
    """The SDK's tracer provider for these settings (not installed): the service's name as its resource,
    parent-based sampling at `traces_sample_ratio`, spans exported in batches in the background."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    exporter: SpanExporter
    if settings.traces_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.traces_endpoint)
    else:
        exporter = ConsoleSpanExporter(service_name=settings.service_name)
    tracer_provider = TracerProvider(
        resource=Resource.create({"service.name": settings.service_name}),
        sampler=ParentBased(TraceIdRatioBased(settings.traces_sample_ratio)),
    )
    tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    return tracer_provider


def setup(settings: ServiceSettings) -> Any:
    """Install the process's tracer provider (once per process; OpenTelemetry keeps the first); None when
    tracing is off. The caller shuts it down (`shutdown`), which exports what is left."""
    if not enabled(settings):
        return None
    tracer_provider = provider(settings)
    trace.set_tracer_provider(tracer_provider)
    return tracer_provider


def shutdown(tracer_provider: Any) -> None:
    if tracer_provider is not None:
        tracer_provider.shutdown()


def instrument(app: Any, settings: ServiceSettings) -> None:
    """A server span per HTTP request (continuing an incoming `traceparent`); probes and scrapes untraced."""
    if not enabled(settings):
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="healthz,readyz,metrics,asyncapi.json", exclude_spans=["receive", "send"]
    )


def kafka_middlewares(settings: ServiceSettings) -> list[Any]:
    """FastStream's OpenTelemetry middleware (publish and consume spans, `traceparent` in the headers)."""
    if not enabled(settings):
        return []
    from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware

    return [KafkaTelemetryMiddleware()]


# --- the trace context as a `traceparent` ------------------------------------------------------------
def current_traceparent() -> str | None:
    """The current span's `traceparent`; None when there is no span (tracing off, or no trace here)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get(TRACEPARENT)


def fields() -> dict[str, str]:
    """`{"traceparent": ...}` for a row written now, or nothing: rows are unchanged with tracing off."""
    traceparent = current_traceparent()
    return {TRACEPARENT: traceparent} if traceparent else {}


def carried(row: Mapping[str, Any]) -> dict[str, str]:
    """The `traceparent` a stored row carries, as a header (or nothing)."""
    traceparent = row.get(TRACEPARENT)
    return {TRACEPARENT: str(traceparent)} if traceparent else {}


def of_headers(headers: Iterable[tuple[str, bytes]] | Mapping[str, Any] | None) -> str | None:
    """The `traceparent` of a Kafka record's headers (aiokafka's pairs, or FastStream's mapping)."""
    if not headers:
        return None
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in pairs:
        if name == TRACEPARENT:
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


def _context(traceparent: str | None) -> context.Context | None:
    if not traceparent:
        return None
    extracted = _PROPAGATOR.extract({TRACEPARENT: traceparent})
    return extracted if trace.get_current_span(extracted).get_span_context().is_valid else None


def links(traceparents: Iterable[str | None]) -> list[Link]:
    """A link to each trace named (the ones that parse), each once."""
    seen: dict[tuple[int, int], Link] = {}
    for traceparent in traceparents:
        ctx = _context(traceparent)
        if ctx is not None:
            span_context = trace.get_current_span(ctx).get_span_context()
            seen.setdefault((span_context.trace_id, span_context.span_id), Link(span_context))
    return list(seen.values())


@contextlib.contextmanager
def attached(traceparent: str | None) -> Iterator[None]:
    """Make `traceparent` the current context (the relay's publish of an outbox row): spans started inside,
    FastStream's publish span among them, belong to that trace."""
    ctx = _context(traceparent)
    if ctx is None:
        yield
        return
    token = context.attach(ctx)
    try:
        yield
    finally:
        context.detach(token)


# --- a batch of consumed events -----------------------------------------------------------------------
@contextlib.contextmanager
def batch(traces: Mapping[str, str | None]) -> Iterator[None]:
    """While a batch is handled: each event id's `traceparent`, for `handling`."""
    token = _BATCH.set({k: v for k, v in traces.items() if v})
    try:
        yield
    finally:
        _BATCH.reset(token)


@contextlib.contextmanager
def handling(event_id: str, event_type: str) -> Iterator[None]:
    """One event of a batch handled in a span of its own trace, linked to the batch's span: what it emits or
    writes carries its own trace on. Nothing when the event came without a trace."""
    ctx = _context((_BATCH.get() or {}).get(event_id))
    if ctx is None:
        yield
        return
    batch_span = trace.get_current_span().get_span_context()
    with _tracer.start_as_current_span(
        f"handle {event_type}",
        context=ctx,
        kind=SpanKind.CONSUMER,
        links=[Link(batch_span)] if batch_span.is_valid else None,
        attributes={"messaging.message.id": event_id},
    ):
        yield


# --- a worker's round of items --------------------------------------------------------------------------
async def round_of(work: Awaitable[T], name: str, traces: Mapping[str, str | None]) -> T:
    """Run `work` (a round of items: a dispatcher's sends) in one span linked to each item's trace; inside,
    `item_span(key, ...)` is a span in that item's own trace, linked back to the round."""
    if not any(traces.values()):  # tracing off, or rows written before it was on
        return await work
    with _tracer.start_as_current_span(name, links=links(traces.values())) as span:
        span.set_attribute("koo.round.items", len(traces))
        token = _ROUND.set((span.get_span_context(), traces))
        try:
            return await work
        finally:
            _ROUND.reset(token)


@contextlib.contextmanager
def item_span(key: str, name: str, attributes: Mapping[str, str] | None = None) -> Iterator[Span]:
    """A span of the item `key` of the current round: in the item's own trace, linked to the round's span;
    without a round or a trace of its own, a child of the current span."""
    current = _ROUND.get()
    ctx, round_links = None, None
    if current is not None:
        round_span, traces = current
        ctx = _context(traces.get(key))
        round_links = [Link(round_span)] if ctx is not None else None
    with _tracer.start_as_current_span(
        name, context=ctx, kind=SpanKind.CLIENT, links=round_links, attributes=dict(attributes or {})
    ) as span:
        yield span
