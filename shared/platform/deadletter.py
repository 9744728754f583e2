"""What a consumer does with an event it cannot handle now: wait, park, or dead-letter, by what the failure
is.

FastStream has no retry or dead-letter support for Kafka, and a bare nack seeks back to the same record in a
tight loop. This middleware wraps every handler call and classifies the failure:

- *transient* (the database or the broker is unavailable, a write conflict): the event is retried in-process
  with capped backoff for a short window, then handed back without committing its offset (the subscriber's
  NACK_ON_ERROR seeks back to it) so the consumer polls again well inside `max.poll.interval.ms` and keeps its
  partitions; it is delivered again and again until the outage is over. Never dead-lettered: an outage of any
  length loses nothing;
- *not yet known* (`NotYetKnown`: about an aggregate this service has not seen yet, because events of other
  topics arrive in any order): parked in the service's database and committed, so the partition flows on; the
  parking worker tries it again (at once when the aggregate arrives, else with backoff) and dead-letters it
  with that reason only after `park_bound_seconds` (a day);
- *poison* (it does not parse or validate, or a business rule refuses it for good): `<topic>.dlt` at once,
  with the reason in its headers;
- anything else (a bug): retried a few times with backoff, then dead-lettered.

The dead-letter record keeps the original key, body and headers. If the dead-letter write itself fails, the
error propagates, the record is not committed (NACK_ON_ERROR), and it is consumed again: nothing is lost.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError, RequestTimedOutError
from faststream import BaseMiddleware
from faststream.kafka import KafkaBroker
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure, ExecutionTimeout, PyMongoError, WTimeoutError

from shared.platform import metrics
from shared.platform.errors import DomainError, NotYetKnown, PermanentError
from shared.platform.settings import ServiceSettings
from shared.schemas import dead_letter

log = logging.getLogger("deadletter")
PERMANENT = (ValidationError, PermanentError, json.JSONDecodeError, UnicodeDecodeError)
OUTAGES = (
    ConnectionFailure,
    ExecutionTimeout,
    WTimeoutError,
    KafkaConnectionError,
    KafkaTimeoutError,
    NodeNotReadyError,
    RequestTimedOutError,
    ConnectionError,
    TimeoutError,
)


class HandBack(Exception):
    """Raised to the subscriber so it does not commit: the event comes back after the outage."""


def is_transient(exc: BaseException) -> bool:
    """The same event may well succeed in a moment: an outage or a lost race, not the event's fault."""
    if isinstance(exc, DomainError):
        return exc.transient
    if isinstance(exc, OUTAGES):
        return True
    return isinstance(exc, PyMongoError) and (
        exc.has_error_label("TransientTransactionError")
        or exc.has_error_label("UnknownTransactionCommitResult")
    )


def is_permanent(exc: BaseException) -> bool:
    """Retrying cannot help: the record does not validate, or a business rule refuses it for good."""
    return isinstance(exc, PERMANENT) or (isinstance(exc, DomainError) and not exc.transient)


def reason(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return ("invalid event: " + "; ".join(parts))[:2000]
    if isinstance(exc, NotYetKnown):
        return f"NotYetKnown: {exc.message} (aggregate {exc.aggregate})"[:2000]
    return f"{type(exc).__name__}: {exc}"[:2000]


class Parking(Protocol):
    async def park(self, record: Any, exc: NotYetKnown, group: str) -> None: ...


class DeadLetterPolicy:
    """Holds what the middleware needs; the broker is attached after it is built, the parking in the lifespan
    (it needs the database). Handlers are registered by topic so parked events can be handled again."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.broker: KafkaBroker | None = None
        self.parking: Parking | None = None
        self.handlers: dict[str, Callable[..., Awaitable[Any]]] = {}
        self.dead_lettered = 0
        self.transient_window = settings.consumer_outage_window_seconds

    def group_of(self, topic: str) -> str:
        """The consumer group that gave up: one group per (service, base topic), see kafka.subscriber."""
        return f"{self.settings.group_id}.{self.base(topic)}"

    def base(self, topic: str) -> str:
        ns = f"{self.settings.topic_namespace}." if self.settings.topic_namespace else ""
        return topic.removeprefix(ns)

    def backoff(self, attempt: int) -> float:
        base = self.settings.consumer_backoff_seconds * 2 ** (attempt - 1)
        return float(min(self.settings.consumer_backoff_max_seconds, base) * random.uniform(0.5, 1.0))

    async def publish(self, record: Any, exc: BaseException, attempts: int) -> None:
        if self.broker is None:
            raise RuntimeError("dead-letter policy has no broker")
        headers = {
            k: v.decode(errors="replace") if isinstance(v, bytes) else str(v)
            for k, v in (getattr(record, "headers", None) or [])
        }
        headers.update(
            {
                "x-original-topic": record.topic,
                "x-original-partition": str(record.partition),
                "x-original-offset": str(record.offset),
                "x-consumer-group": self.group_of(record.topic),
                "x-exception": type(exc).__name__,
                "x-reason": reason(exc),
                "x-attempts": str(attempts),
                "x-failed-at": datetime.now(UTC).isoformat(),
            }
        )
        await self.broker.publish(
            record.value or b"", topic=dead_letter(record.topic), key=record.key, headers=headers
        )
        self.dead_lettered += 1
        metrics.dead_lettered(self.settings.service_name, record.topic)
        log.error(
            "dead-lettered a record",
            extra={
                "topic": record.topic,
                "offset": record.offset,
                "reason": headers["x-reason"],
                "attempts": attempts,
            },
        )

    async def invoke(self, handler: Callable[..., Awaitable[Any]], first: Any) -> Any:
        """Call a subscriber's handler as FastStream would: `first` as its first parameter (the event), the
        others (`Context("name")` defaults) from the broker's context."""
        if self.broker is None:
            raise RuntimeError("dead-letter policy has no broker")
        params = list(inspect.signature(handler).parameters.values())[1:]
        kwargs = {
            p.name: self.broker.context.get(p.default.name) for p in params if hasattr(p.default, "name")
        }
        return await handler(first, **kwargs)

    async def consume(self, record: Any, call: Callable[[], Awaitable[Any]]) -> Any:
        """Run `call` for one record under the policy: retried, handed back, parked or dead-lettered."""
        failures, outage, started = 0, 0, time.monotonic()
        while True:
            try:
                return await call()
            except Exception as exc:
                if is_transient(exc):
                    outage += 1
                    if time.monotonic() - started >= self.transient_window:
                        log.warning(
                            "outage: handing the record back uncommitted (it comes again): %s",
                            reason(exc),
                            extra={"topic": record.topic, "offset": record.offset},
                        )
                        raise HandBack(reason(exc)) from exc
                    await asyncio.sleep(min(5.0, self.backoff(outage)))
                    continue
                if isinstance(exc, NotYetKnown) and self.parking is not None:
                    await self.parking.park(record, exc, self.group_of(record.topic))
                    return None
                failures += 1
                if (
                    is_permanent(exc)
                    or isinstance(exc, NotYetKnown)
                    or failures >= self.settings.consumer_max_attempts
                ):
                    await self.publish(record, exc, failures)
                    return None
                delay = self.backoff(failures)
                log.warning(
                    "handler failed (attempt %d/%d), retrying in %.2fs: %s",
                    failures,
                    self.settings.consumer_max_attempts,
                    delay,
                    reason(exc),
                )
                await asyncio.sleep(delay)

    def middleware(self, msg: Any, /, *, context: Any) -> BaseMiddleware:
        return _DeadLetterMiddleware(msg, context=context, policy=self)


class _DeadLetterMiddleware(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: Any, policy: DeadLetterPolicy) -> None:
        super().__init__(msg, context=context)
        self.policy = policy
        self.in_scope = False

    async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> Any:
        self.in_scope = True
        if isinstance(msg.raw_message, tuple):  # a batch: its consumer applies the policy per record
            return await call_next(msg)
        return await self.policy.consume(msg.raw_message, lambda: call_next(msg))

    async def after_processed(
        self,
        exc_type: type[BaseException] | None = None,
        exc_val: BaseException | None = None,
        exc_tb: TracebackType | None = None,
    ) -> bool | None:
        # An error that never reached the handler scope is a parsing error: the record is unreadable (a batch
        # whose envelope did not parse: each of its records, with the reason; an operator replays them).
        if exc_val is not None and not self.in_scope and isinstance(exc_val, Exception):
            for record in self.msg if isinstance(self.msg, tuple) else (self.msg,):
                await self.policy.publish(record, exc_val, 1)
            return True
        return False
