"""Sends queued email and SMS deliveries, retrying transient failures with backoff; never twice on purpose.

The dispatcher is a batch source of the shared leased worker (shared/platform/worker.py): one replica
dispatches at a time, woken when a delivery is queued (a nudge, or the change stream on `deliveries`) and at
the latest every `dispatch_poll_seconds`. A round claims up to `delivery_concurrency` due deliveries in a few
round trips (`Deliveries.claim_due`), reserves their rate-limit slots together (nothing at all while a limit
is off), sends them all at once over the channels' pooled connections, and records the results in bulk writes
as the sends finish. A database error while claiming fails the round, which the worker logs and retries with
backoff: capacity is the worker's, scoped to the round, so no error can leak it, and a worker that died makes
/readyz fail.

Two leases, on purpose. The worker's lease says which replica claims; the row's own lease (`sending`,
`lease_until`) says that a send of this delivery may be under way. The row lease stays because the worker's
lease can change hands while sends are still in flight (a replica stalled past its lease, or shutting down and
draining), and because a replica that dies mid-send leaves its rows `sending`: the next holder re-claims them
only once their lease ran out, never while the first may still be talking to the provider. A crash between
the provider's acceptance and the mark is the one window in which a message can go out twice; it is as narrow
as one or two bulk writes (the one under way, then the one carrying this result), and the email keeps its
Message-ID so the receiving side can collapse it.

A provider's answer is the delivery's own business, not the worker's: a transient failure is an attempt with
backoff, a permanent refusal is `failed`, exhausted attempts are `dead` (operators replay them).
`process_batch` answers as failed only what is wrong with the processing itself (a row that does not validate,
a database error while reserving or recording), which the worker records, retries and at last quarantines.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_random_exponential

from services.notification.breaker import CircuitOpen, Failover, Sent
from services.notification.catalogue import Channel
from services.notification.channels import (
    EmailMessage,
    PermanentSendError,
    SmsMessage,
    TransientSendError,
)
from services.notification.domain import Delivery, DeliveryStatus, next_attempt
from services.notification.settings import NotificationSettings
from services.notification.store import Deliveries, RateLimits
from services.notification.store.deliveries import Result
from shared.platform import metrics, tracing
from shared.platform.collection import Doc
from shared.platform.deadletter import is_transient
from shared.platform.worker import Blocked, WorkerSettings

log = logging.getLogger("notification.dispatcher")


class Dispatcher:
    """The dispatcher's batch source: `due` claims a round of deliveries, `process_batch` sends them."""

    name = "dispatcher:notification"

    def __init__(
        self,
        deliveries: Deliveries,
        rate_limits: RateLimits,
        email: Failover[EmailMessage],
        sms: Failover[SmsMessage],
        settings: NotificationSettings,
    ) -> None:
        self.deliveries, self.rate_limits = deliveries, rate_limits
        self.email, self.sms, self.settings = email, sms, settings
        self._inflight: set[asyncio.Task[dict[str, BaseException]]] = set()
        self.sent_total = 0

    def worker_settings(self) -> WorkerSettings:
        """A round claims no more than it sends at once, so a row's lease only runs while it is being sent."""
        s = self.settings
        return WorkerSettings(
            poll_seconds=s.dispatch_poll_seconds,
            lease_seconds=s.worker_lease,
            batch=s.delivery_concurrency,
            concurrency=s.delivery_concurrency,
            max_attempts=8,
            backoff_seconds=1.0,
            backoff_max_seconds=60.0,
            watch="deliveries",
            gather_seconds=s.dispatch_gather_seconds,
        )

    def key(self, item: Doc) -> str:
        return str(item["_id"])

    async def due(self, now: datetime, limit: int, blocked: Blocked) -> list[Doc]:
        """Claim up to `limit` deliveries (`Deliveries.claim_due`), leaving out those the worker holds back
        (backing off or quarantined)."""
        lease_until = now + timedelta(seconds=self.settings.delivery_lease_seconds)
        return await self.deliveries.claim_due(now, lease_until, limit, blocked.all)

    async def process(self, item: Doc) -> None:
        failed = await self.process_batch([item])
        if failed:
            raise next(iter(failed.values()))

    async def process_batch(self, items: list[Doc]) -> dict[str, BaseException]:
        """Send a round of claimed deliveries at once and record their results together; answer the items
        whose processing failed (a row that does not load, a database error while recording). The round runs
        in its own task, shielded: a worker stopped at shutdown does not cut a message off in the middle of
        its provider call, nor leave a sent one unrecorded; `drain` waits for it instead."""
        # One span for the round, linked to each delivery's trace; each send is a span in its own trace.
        traces = {self.key(item): item.get(tracing.TRACEPARENT) for item in items}
        traced = tracing.round_of(self._round(items), "notification dispatch", traces)
        task = asyncio.create_task(traced, name=f"send-round:{len(items)}")
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return await asyncio.shield(task)

    async def _round(self, items: list[Doc]) -> dict[str, BaseException]:
        failed: dict[str, BaseException] = {}
        claimed: list[Delivery] = []
        for item in items:
            try:
                claimed.append(Delivery.model_validate(item))
            except ValidationError as exc:
                failed[self.key(item)] = exc
        if not claimed:
            return failed
        lease_until = min(item["lease_until"] for item in items).replace(tzinfo=UTC)
        try:
            held = await self._rate_limited(claimed)
        except Exception as exc:  # the limits' database: the round's rows wait out their lease
            return failed | {d.delivery_id: exc for d in claimed}
        gate = asyncio.Semaphore(self.settings.delivery_concurrency)

        async def one(d: Delivery) -> Result:
            async with gate:
                return await self._send(d, held.get(d.delivery_id))

        # Results are written as they come, a group at a time: whatever finished while the previous write was
        # under way goes in the next one. A slow provider call holds back no other delivery's mark, and a sent
        # message waits for at most two writes before it is recorded.
        sends = {asyncio.create_task(one(d)): d.delivery_id for d in claimed}
        waiting = set(sends)
        while waiting:
            done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            results = []
            for task in done:
                if (error := task.exception()) is not None:
                    failed[sends[task]] = error
                else:
                    results.append(task.result())
            try:
                await self._record(results, lease_until)
            except Exception as exc:
                failed |= {r.delivery_id: exc for r in results}
        return failed

    async def _send(self, d: Delivery, held_until: datetime | None) -> Result:
        """One delivery's result: sent, deferred (not an attempt) or failed (an attempt)."""
        if d.provider_ref is not None:
            # The provider took an earlier attempt (its status callback recorded the message's id) but the
            # replica that sent it stopped before marking it sent: record it now, never send it twice.
            self._count(d, d.provider or "primary", "sent")
            return Result.sent(d.delivery_id, d.provider_ref, d.provider or "primary", datetime.now(UTC))
        if held_until is not None:
            return self._defer(d, held_until, self._limit_note(d), provider="none")  # no provider asked
        try:
            with tracing.item_span(d.delivery_id, f"send {d.channel.value}", _about(d)) as span:
                sent = await self._deliver(d)
                span.set_attribute("koo.provider", sent.provider)
        except CircuitOpen as exc:
            later = timedelta(seconds=exc.retry_in * random.uniform(1.0, 1.5))
            return self._defer(d, datetime.now(UTC) + later, str(exc), provider=exc.provider)
        except TransientSendError as exc:
            return self._failed(d, exc, permanent=False)
        except PermanentSendError as exc:
            return self._failed(d, exc, permanent=True)
        except Exception as exc:  # an unclassified provider error: an attempt, retried as transient
            log.exception("unexpected error sending delivery %s", d.delivery_id)
            return self._failed(d, exc, permanent=False)
        self.sent_total += 1
        self._count(d, sent.provider, "sent")
        log.info(
            "delivered",
            extra={
                "delivery_id": d.delivery_id,
                "channel": d.channel.value,
                "event_id": d.event_id,
                "order_id": d.order_id,
            },
        )
        return Result.sent(d.delivery_id, sent.ref, sent.provider, datetime.now(UTC))

    async def _record(self, results: list[Result], lease_until: datetime) -> None:
        """Write the round's results. Some providers have the message already: a database that is away
        (restarting) is waited for while the rows' leases hold, since an unmarked row is re-claimed and sent
        again once its lease runs out. Writing them again after an error is harmless (`Deliveries.record`)."""
        patience = (lease_until - datetime.now(UTC)).total_seconds() - 1.0
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(is_transient),
            reraise=True,
            stop=stop_after_delay(max(0.0, patience)),
            wait=wait_random_exponential(multiplier=0.1, max=2.0),
        ):
            with attempt:
                await self.deliveries.record(results)

    async def _rate_limited(self, claimed: list[Delivery]) -> dict[str, datetime]:
        """Per-address rate limit: the deliveries held back, each with when its window frees up; the excess
        waits for it and is never dropped. A delivery recorded as sent already takes no slot."""
        s = self.settings
        held: dict[str, datetime] = {}
        for channel, limit in ((Channel.EMAIL, s.rate_limit_email), (Channel.SMS, s.rate_limit_sms)):
            wanted = [d for d in claimed if d.channel is channel and d.provider_ref is None]
            if limit <= 0 or not wanted:
                continue  # off: no round trip at all
            free_at = await self.rate_limits.reserve_all(
                channel.value, [d.address for d in wanted], limit, datetime.now(UTC)
            )
            held |= {d.delivery_id: at for d, at in zip(wanted, free_at, strict=True) if at is not None}
        return held

    def _limit_note(self, d: Delivery) -> str:
        s = self.settings
        limit = s.rate_limit_sms if d.channel is Channel.SMS else s.rate_limit_email
        return (
            f"rate limit: {limit} {d.channel.value} per address per "
            f"{s.rate_limit_window_seconds:g}s, deferred"
        )

    def _count(self, d: Delivery, provider: str, result: str) -> None:
        metrics.delivery(self.settings.service_name, d.channel.value, provider, result)

    def _defer(self, d: Delivery, until: datetime, why: str, provider: str) -> Result:
        """Not an attempt (rate limit, open circuit): give the delivery back to the queue until `until`."""
        log.info("delivery deferred: %s", why, extra={"delivery_id": d.delivery_id})
        self._count(d, provider, "deferred")
        return Result.deferred(d.delivery_id, until, why)

    async def _deliver(self, d: Delivery) -> Sent:
        if d.channel is Channel.EMAIL:
            return await self.email.send(
                EmailMessage(
                    to=d.address,
                    subject=d.title,
                    text=d.body,
                    html=d.html,
                    message_id=f"<{d.delivery_id}@koo-suite.local>",
                )
            )
        if d.channel is Channel.SMS:
            callback = None
            if self.settings.sms_status_callbacks:
                callback = f"{self.settings.public_base_url.rstrip('/')}/callbacks/sms/{d.delivery_id}"
            return await self.sms.send(SmsMessage(to=d.address, body=d.body, status_callback=callback))
        raise PermanentSendError(f"channel {d.channel} is not dispatched")

    def _failed(self, d: Delivery, exc: Exception, *, permanent: bool) -> Result:
        s = self.settings
        exhausted = d.attempts >= s.delivery_max_attempts
        status = (
            DeliveryStatus.FAILED
            if permanent
            else DeliveryStatus.DEAD
            if exhausted
            else DeliveryStatus.PENDING
        )
        log.warning(
            "delivery %s failed (attempt %d): %s -> %s",
            d.delivery_id,
            d.attempts,
            exc,
            status.value,
            extra={"delivery_id": d.delivery_id, "channel": d.channel.value},
        )
        self._count(
            d, getattr(exc, "provider", "primary"), "dead" if status is DeliveryStatus.DEAD else "failed"
        )
        return Result.failed(
            d.delivery_id,
            status,
            f"{type(exc).__name__}: {exc}"[:500],
            next_attempt(
                d.attempts, datetime.now(UTC), s.delivery_backoff_seconds, s.delivery_backoff_max_seconds
            ),
        )

    async def drain(self, within: float = 10.0) -> None:
        """Let sends already handed to a provider finish before the clients close (shutdown)."""
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=within)


def _about(d: Delivery) -> dict[str, str]:
    """What a send's span says of its delivery (never the address: it is personal data)."""
    return {"koo.channel": d.channel.value, "koo.delivery_id": d.delivery_id, "koo.event_type": d.event_type}
