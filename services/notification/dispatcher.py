"""Sends queued email and SMS deliveries, retrying transient failures with backoff; never twice on purpose.

The dispatcher is a source of the shared leased worker (shared/platform/worker.py): one replica dispatches at
a time, woken when a delivery is queued (a nudge, or the change stream on `deliveries`) and at the latest
every `dispatch_poll_seconds`. A round claims up to `delivery_concurrency` due deliveries and sends them all
at once. A database error while claiming fails the round, which the worker logs and retries with backoff:
capacity is the worker's, scoped to the round, so no error can leak it, and a worker that died makes /readyz
fail.

Two leases, on purpose. The worker's lease says which replica claims; the row's own lease (`sending`,
`lease_until`) says that a send of this delivery may be under way. The row lease stays because the worker's
lease can change hands while sends are still in flight (a replica stalled past its lease, or shutting down and
draining), and because a replica that dies mid-send leaves its rows `sending`: the next holder re-claims them
only once their lease ran out, never while the first may still be talking to the provider. A crash between
the provider's acceptance and the mark is the one window in which a message can go out twice; it is as narrow
as one network round trip, and the email keeps its Message-ID so the receiving side can collapse it.

A provider's answer is the delivery's own business, not the worker's: a transient failure is an attempt with
backoff, a permanent refusal is `failed`, exhausted attempts are `dead` (operators replay them). `process`
raises only for what is wrong with the processing itself (a row that does not validate, a database error while
marking), which the worker records, retries and at last quarantines.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime, timedelta

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
from shared.platform.collection import Doc
from shared.platform.deadletter import is_transient
from shared.platform.worker import Blocked, WorkerSettings

log = logging.getLogger("notification.dispatcher")


class Dispatcher:
    """The dispatcher's source: `due` claims deliveries, `process` sends one."""

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
        self._inflight: set[asyncio.Task[None]] = set()
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
        )

    def key(self, item: Doc) -> str:
        return str(item["_id"])

    async def due(self, now: datetime, limit: int, blocked: Blocked) -> list[Doc]:
        """Claim up to `limit` deliveries (`Deliveries.claim_due`), leaving out those the worker holds back
        (backing off or quarantined)."""
        lease_until = now + timedelta(seconds=self.settings.delivery_lease_seconds)
        return await self.deliveries.claim_due(now, lease_until, limit, blocked.all)

    async def process(self, item: Doc) -> None:
        """Send one claimed delivery. The send runs in its own task, shielded: a worker stopped at shutdown
        does not cut a message off in the middle of its provider call; `drain` waits for it instead."""
        delivery = Delivery.model_validate(item)
        lease_until = item["lease_until"].replace(tzinfo=UTC)
        task = asyncio.create_task(self._send(delivery, lease_until), name=f"send:{delivery.delivery_id}")
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        await asyncio.shield(task)

    async def _send(self, d: Delivery, lease_until: datetime) -> None:
        if d.provider_ref is not None:
            # The provider took an earlier attempt (its status callback recorded the message's id) but the
            # replica that sent it stopped before marking it sent: record it now, never send it twice.
            await self._mark_sent(d, Sent(ref=d.provider_ref, provider=d.provider or "primary"), lease_until)
            return
        if await self._deferred(d):
            return
        try:
            sent = await self._deliver(d)
        except CircuitOpen as exc:
            later = timedelta(seconds=exc.retry_in * random.uniform(1.0, 1.5))
            await self._defer(d, datetime.now(UTC) + later, str(exc))
        except TransientSendError as exc:
            await self._failed(d, exc, permanent=False)
        except PermanentSendError as exc:
            await self._failed(d, exc, permanent=True)
        except Exception as exc:  # an unclassified provider error: an attempt, retried as transient
            log.exception("unexpected error sending delivery %s", d.delivery_id)
            await self._failed(d, exc, permanent=False)
        else:
            await self._mark_sent(d, sent, lease_until)
            self.sent_total += 1
            log.info(
                "delivered",
                extra={
                    "delivery_id": d.delivery_id,
                    "channel": d.channel.value,
                    "event_id": d.event_id,
                    "order_id": d.order_id,
                },
            )

    async def _mark_sent(self, d: Delivery, sent: Sent, lease_until: datetime) -> None:
        """The provider has the message: record it. A database that is away (restarting) is waited for while
        the row's lease holds, since an unmarked row is re-claimed and sent again once its lease runs out."""
        patience = (lease_until - datetime.now(UTC)).total_seconds() - 1.0
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(is_transient),
            reraise=True,
            stop=stop_after_delay(max(0.0, patience)),
            wait=wait_random_exponential(multiplier=0.1, max=2.0),
        ):
            with attempt:
                await self.deliveries.mark_sent(d.delivery_id, sent.ref, sent.provider, datetime.now(UTC))

    async def _deferred(self, d: Delivery) -> bool:
        """Per-address rate limit: the excess waits for the window to free up; it is never dropped."""
        s = self.settings
        limit = s.rate_limit_sms if d.channel is Channel.SMS else s.rate_limit_email
        free_at = await self.rate_limits.reserve(d.channel.value, d.address, limit, datetime.now(UTC))
        if free_at is None:
            return False
        await self._defer(
            d,
            free_at,
            f"rate limit: {limit} {d.channel.value} per address per "
            f"{s.rate_limit_window_seconds:g}s, deferred",
        )
        return True

    async def _defer(self, d: Delivery, until: datetime, why: str) -> None:
        """Not an attempt (rate limit, open circuit): give the delivery back to the queue until `until`."""
        await self.deliveries.defer(d.delivery_id, until, why)
        log.info("delivery deferred: %s", why, extra={"delivery_id": d.delivery_id})

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

    async def _failed(self, d: Delivery, exc: Exception, *, permanent: bool) -> None:
        s = self.settings
        exhausted = d.attempts >= s.delivery_max_attempts
        status = (
            DeliveryStatus.FAILED
            if permanent
            else DeliveryStatus.DEAD
            if exhausted
            else DeliveryStatus.PENDING
        )
        await self.deliveries.failed(
            d.delivery_id,
            status,
            f"{type(exc).__name__}: {exc}"[:500],
            next_attempt(
                d.attempts, datetime.now(UTC), s.delivery_backoff_seconds, s.delivery_backoff_max_seconds
            ),
        )
        log.warning(
            "delivery %s failed (attempt %d): %s -> %s",
            d.delivery_id,
            d.attempts,
            exc,
            status.value,
            extra={"delivery_id": d.delivery_id, "channel": d.channel.value},
        )

    async def drain(self, within: float = 10.0) -> None:
        """Let sends already handed to a provider finish before the clients close (shutdown)."""
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=within)
