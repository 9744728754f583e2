"""Bounded retries, then a dead-letter topic: a poison message never blocks its partition.

FastStream has no retry or dead-letter support for Kafka, and a bare nack seeks back to the same record in a
tight loop. This middleware wraps every handler call:

- a *permanent* failure (the payload does not validate, or the handler says it can never succeed) goes to
  `<topic>.dlt` at once;
- any other failure is retried in-process with capped exponential backoff and jitter, and dead-lettered once
  the attempts are spent;
- the dead-letter record keeps the original key, body and headers, and says why in its headers.

The handler call returns normally after a dead-letter write, so the subscriber's ack policy commits the
offset and the consumer moves on. If the dead-letter write itself fails, the error propagates, the record is
not committed (NACK_ON_ERROR), and it is consumed again: nothing is lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from faststream import BaseMiddleware
from faststream.kafka import KafkaBroker
from pydantic import ValidationError

from shared.platform.errors import DomainError, PermanentError
from shared.platform.settings import ServiceSettings
from shared.schemas import dead_letter

log = logging.getLogger("deadletter")
PERMANENT = (ValidationError, PermanentError, json.JSONDecodeError, UnicodeDecodeError)


def is_permanent(exc: BaseException) -> bool:
    """Retrying cannot help: the record does not validate, or a business rule refuses it for good."""
    return isinstance(exc, PERMANENT) or (isinstance(exc, DomainError) and not exc.transient)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return ("invalid event: " + "; ".join(parts))[:2000]
    return f"{type(exc).__name__}: {exc}"[:2000]


class DeadLetterPolicy:
    """Holds what the middleware needs; the broker is attached after it is built."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.broker: KafkaBroker | None = None
        self.dead_lettered = 0

    def group_of(self, topic: str) -> str:
        """The consumer group that gave up: one group per (service, base topic), see kafka.subscriber."""
        ns = f"{self.settings.topic_namespace}." if self.settings.topic_namespace else ""
        return f"{self.settings.group_id}.{topic.removeprefix(ns)}"

    def backoff(self, attempt: int) -> float:
        base = self.settings.consumer_backoff_seconds * 2 ** (attempt - 1)
        return float(min(self.settings.consumer_backoff_max_seconds, base) * random.uniform(0.5, 1.0))

    async def publish(self, record: Any, exc: BaseException, attempts: int) -> None:
        if self.broker is None:
            raise RuntimeError("dead-letter policy has no broker")
        headers = {k: v.decode(errors="replace") if isinstance(v, bytes) else str(v)
                   for k, v in (getattr(record, "headers", None) or [])}
        headers.update({
            "x-original-topic": record.topic,
            "x-original-partition": str(record.partition),
            "x-original-offset": str(record.offset),
            "x-consumer-group": self.group_of(record.topic),
            "x-exception": type(exc).__name__,
            "x-reason": _reason(exc),
            "x-attempts": str(attempts),
            "x-failed-at": datetime.now(UTC).isoformat(),
        })
        await self.broker.publish(record.value or b"", topic=dead_letter(record.topic), key=record.key,
                                  headers=headers)
        self.dead_lettered += 1
        log.error("dead-lettered a record", extra={"topic": record.topic, "offset": record.offset,
                                                  "reason": headers["x-reason"], "attempts": attempts})

    def middleware(self, msg: Any, /, *, context: Any) -> BaseMiddleware:
        return _DeadLetterMiddleware(msg, context=context, policy=self)


class _DeadLetterMiddleware(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: Any, policy: DeadLetterPolicy) -> None:
        super().__init__(msg, context=context)
        self.policy = policy
        self.in_scope = False

    async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> Any:
        self.in_scope = True
        attempts = self.policy.settings.consumer_max_attempts
        for attempt in range(1, attempts + 1):
            try:
                return await call_next(msg)
            except Exception as exc:
                if is_permanent(exc) or attempt == attempts:
                    await self.policy.publish(msg.raw_message, exc, attempt)
                    return None
                delay = self.policy.backoff(attempt)
                log.warning("handler failed (attempt %d/%d), retrying in %.2fs: %s", attempt, attempts,
                            delay, _reason(exc))
                await asyncio.sleep(delay)
        return None

    async def after_processed(self, exc_type: type[BaseException] | None = None,
                              exc_val: BaseException | None = None,
                              exc_tb: TracebackType | None = None) -> bool | None:
        # An error that never reached the handler scope is a parsing error: the record is unreadable.
        if exc_val is not None and not self.in_scope and isinstance(exc_val, Exception):
            await self.policy.publish(self.msg, exc_val, 1)
            return True
        return False
