"""Sends queued email and SMS deliveries, retrying transient failures with backoff, and never twice on purpose.

Each delivery row is claimed with a lease (`sending`, `lease_until`) by one dispatcher at a time, sent, then
marked `sent`. A crash between the provider's acceptance and the mark is the one window in which a message can
go out twice; it is as narrow as one network round trip, and the email keeps its Message-ID so the receiving
side can collapse it. A delivery whose lease ran out (its dispatcher died) is picked up again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from datetime import UTC, datetime, timedelta

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from services.notification.breaker import CircuitOpen, Failover, Sent
from services.notification.catalogue import Channel
from services.notification.channels import (
    EmailMessage,
    PermanentSendError,
    SmsMessage,
    TransientSendError,
)
from services.notification.domain import Delivery, DeliveryStatus, next_attempt
from services.notification.ratelimit import RateLimiter
from services.notification.settings import NotificationSettings
from shared.platform.mongo import Doc

log = logging.getLogger("notification.dispatcher")


class Dispatcher:
    def __init__(self, db: AsyncDatabase[Doc], email: Failover[EmailMessage], sms: Failover[SmsMessage],
                 settings: NotificationSettings) -> None:
        self.col = db["deliveries"]
        self.email, self.sms, self.settings = email, sms, settings
        self.limiter = RateLimiter(db, settings.rate_limit_window_seconds)
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.delivery_concurrency)
        self._inflight: set[asyncio.Task[None]] = set()
        self.sent_total = 0

    def nudge(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                while await self._dispatch_one():
                    pass
            except PyMongoError as exc:
                log.warning("dispatcher cannot reach the database, will retry: %s", exc)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.dispatch_poll_seconds)
            self._wake.clear()

    async def _dispatch_one(self) -> bool:
        await self._slots.acquire()
        delivery = await self._claim()
        if delivery is None:
            self._slots.release()
            return False
        task = asyncio.create_task(self._send(delivery))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return True

    async def _claim(self) -> Delivery | None:
        """The next due delivery, or one whose sender died (its lease ran out).

        Two plain indexed queries rather than one `$or`: the `$or` with a sort scanned the whole collection
        on every claim and every idle poll, and claims slowed down as the delivery log grew (make bench)."""
        now = datetime.now(UTC)
        claim = {"$set": {"status": DeliveryStatus.SENDING,
                          "lease_until": now + timedelta(seconds=self.settings.delivery_lease_seconds)},
                 "$inc": {"attempts": 1}}
        for query, order in (({"status": DeliveryStatus.PENDING, "next_attempt_at": {"$lte": now}}, "next_attempt_at"),
                             ({"status": DeliveryStatus.SENDING, "lease_until": {"$lt": now}}, "lease_until")):
            doc = await self.col.find_one_and_update(query, claim, sort=[(order, 1)],
                                                     return_document=ReturnDocument.AFTER)
            if doc is not None:
                return Delivery.model_validate(doc)
        return None

    async def _send(self, d: Delivery) -> None:
        try:
            if await self._deferred(d):
                return
            sent = await self._deliver(d)
        except CircuitOpen as exc:
            await self._defer(d, datetime.now(UTC) + timedelta(seconds=exc.retry_in * random.uniform(1.0, 1.5)),
                              str(exc))
        except TransientSendError as exc:
            await self._failed(d, exc, permanent=False)
        except PermanentSendError as exc:
            await self._failed(d, exc, permanent=True)
        except Exception as exc:  # an unexpected bug must not kill the worker; treat it as transient
            log.exception("unexpected error sending delivery %s", d.delivery_id)
            await self._failed(d, exc, permanent=False)
        else:
            await self.col.update_one({"_id": d.delivery_id, "status": DeliveryStatus.SENDING},
                                      {"$set": {"status": DeliveryStatus.SENT, "sent_at": datetime.now(UTC),
                                                "provider_ref": sent.ref, "provider": sent.provider,
                                                "last_error": None}})
            self.sent_total += 1
            log.info("delivered", extra={"delivery_id": d.delivery_id, "channel": d.channel.value,
                                         "event_id": d.event_id, "order_id": d.order_id})
        finally:
            self._slots.release()

    async def _deferred(self, d: Delivery) -> bool:
        """Per-address rate limit: the excess waits for the window to free up; it is never dropped."""
        s = self.settings
        limit = s.rate_limit_sms if d.channel is Channel.SMS else s.rate_limit_email
        free_at = await self.limiter.reserve(d.channel.value, d.address, limit, datetime.now(UTC))
        if free_at is None:
            return False
        await self._defer(d, free_at, f"rate limit: {limit} {d.channel.value} per address per "
                                      f"{s.rate_limit_window_seconds:g}s, deferred")
        return True

    async def _defer(self, d: Delivery, until: datetime, why: str) -> None:
        """Not an attempt (rate limit, open circuit): give the delivery back to the queue until `until`."""
        await self.col.update_one(
            {"_id": d.delivery_id, "status": DeliveryStatus.SENDING},
            {"$set": {"status": DeliveryStatus.PENDING, "next_attempt_at": until, "last_error": why},
             "$inc": {"attempts": -1}})
        log.info("delivery deferred: %s", why, extra={"delivery_id": d.delivery_id})

    async def _deliver(self, d: Delivery) -> Sent:
        if d.channel is Channel.EMAIL:
            return await self.email.send(EmailMessage(to=d.address, subject=d.title, text=d.body, html=d.html,
                                                      message_id=f"<{d.delivery_id}@koo-suite.local>"))
        if d.channel is Channel.SMS:
            callback = None
            if self.settings.sms_status_callbacks:
                callback = f"{self.settings.public_base_url.rstrip('/')}/callbacks/sms/{d.delivery_id}"
            return await self.sms.send(SmsMessage(to=d.address, body=d.body, status_callback=callback))
        raise PermanentSendError(f"channel {d.channel} is not dispatched")

    async def _failed(self, d: Delivery, exc: Exception, *, permanent: bool) -> None:
        s = self.settings
        exhausted = d.attempts >= s.delivery_max_attempts
        status = DeliveryStatus.FAILED if permanent else DeliveryStatus.DEAD if exhausted else DeliveryStatus.PENDING
        update = {"status": status, "last_error": f"{type(exc).__name__}: {exc}"[:500],
                  "next_attempt_at": next_attempt(d.attempts, datetime.now(UTC), s.delivery_backoff_seconds,
                                                  s.delivery_backoff_max_seconds)}
        await self.col.update_one({"_id": d.delivery_id, "status": DeliveryStatus.SENDING}, {"$set": update})
        log.warning("delivery %s failed (attempt %d): %s -> %s", d.delivery_id, d.attempts, exc, status.value,
                    extra={"delivery_id": d.delivery_id, "channel": d.channel.value})

    async def drain(self, within: float = 10.0) -> None:
        """Let sends already handed to a provider finish before the clients close (shutdown)."""
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=within)
