"""Batch consumption: the records a poll returns, handled in one transaction, and one by one when that fails.

A subscriber made with `kafka.batch_subscriber` takes what the consumer has fetched, up to
`consumer_batch_max` records (it does not wait for a batch to fill: a lone record is handled at once). The
records come in offset order per partition, so a key's events stay in order. `BatchConsumer`:

1. decodes each record as the topic's event; one that does not decode is dead-lettered with its reason, as a
   single consumer would, and the others go on;
2. hands the decoded events to the service's batch use case (`UnitOfWorkFactory.handle_batch`: the inbox
   claims, the state changes and the outbox rows of all of them in one transaction);
3. if that fails for any reason, handles the events one by one, each through the dead-letter policy
   (deadletter.py) exactly as a single-record subscriber does: retried, handed back during an outage, parked
   when it is about something not known yet, dead-lettered when it is poison. The batch's transaction did not
   commit, so nothing of it is applied twice; events the one-by-one pass already handled are found in the
   inbox if the batch is delivered again.

The offsets are committed once the whole batch is through (NACK_ON_ERROR): a hand-back rewinds every partition
of the batch to its first record, and the inbox makes the repeats no-ops.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import ConsumerRecord
from pydantic import ValidationError

from shared.platform import tracing
from shared.platform.deadletter import PERMANENT, DeadLetterPolicy, reason
from shared.schemas import Event

log = logging.getLogger("batching")

Handler = Callable[..., Awaitable[Any]]  # (event or events, *Context("name") services) -> None
Decoded = list[tuple[ConsumerRecord[Any, Any], Event]]


class BatchConsumer:
    """`on_batch(events, ...)` for the batch, `on_event(event, ...)` for one event: the subscriber's two
    handlers, called with the services they ask for from the broker's context, as FastStream calls them."""

    def __init__(
        self, policy: DeadLetterPolicy, event_type: type[Event], on_batch: Handler, on_event: Handler
    ) -> None:
        self.policy, self.event_type = policy, event_type
        self.on_batch, self.on_event = on_batch, on_event
        self.batches = self.fallbacks = 0  # for tests and the bench

    def decode(self, records: tuple[ConsumerRecord[Any, Any], ...]) -> tuple[Decoded, list[Any]]:
        """(records that decode, with their events; (record, error) of those that do not)."""
        good: Decoded = []
        bad: list[Any] = []
        for record in records:
            try:
                good.append((record, self.event_type.model_validate_json(record.value or b"")))
            except PERMANENT as exc:
                bad.append((record, _as_single(record, exc)))
        return good, bad

    async def __call__(self, decoded: Decoded, undecodable: list[Any]) -> None:
        for record, exc in undecodable:  # poison: to its dead-letter topic at once, the others go on
            await self.policy.publish(record, exc, 1)
        if not decoded:
            return
        self.batches += 1
        # Each event is handled in its own trace (its record's traceparent), linked to the batch's span.
        with tracing.batch({str(e.event_id): tracing.of_headers(r.headers) for r, e in decoded}):
            try:
                await self.policy.invoke(self.on_batch, [event for _, event in decoded])
                return
            except Exception as exc:
                self.fallbacks += 1
                log.info(
                    "a batch of %d failed (%s); handling its events one by one", len(decoded), reason(exc)
                )
            for record, event in decoded:
                with tracing.handling(str(event.event_id), event.event_type):
                    await self.policy.consume(
                        record, functools.partial(self.policy.invoke, self.on_event, event)
                    )


def _as_single(record: ConsumerRecord[Any, Any], exc: Exception) -> Exception:
    """The error a single-record subscriber reports: a body that is not JSON at all is a JSONDecodeError (or
    UnicodeDecodeError), not a validation error, so the dead letter's `x-exception` says the same."""
    if isinstance(exc, ValidationError):
        try:
            json.loads(record.value or b"")
        except (json.JSONDecodeError, UnicodeDecodeError) as not_json:
            return not_json
    return exc
