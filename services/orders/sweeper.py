"""The unpaid-order sweeper: cancels orders left unpaid past their due time (dossier §1.3, "cancelled ...
automatically by the system").

The due time (`pay_by`) is on the order document itself, so it survives restarts. The sweeper is a source of
the shared leased worker (shared/platform/worker.py), one overdue order per item: one replica sweeps at a
time, under a lease renewed while it works; each cancellation and its order.status_changed commit in one unit
of work. An order whose cancellation fails is recorded, retried with backoff and finally quarantined (reported
in /readyz); the other orders are cancelled meanwhile. It does not watch the orders collection: an order is
written long before it is due, so a change stream would only wake it for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.orders.context import OrdersContext
from services.orders.notice_cases import reminders_due, send_expiry_reminder
from services.orders.order_cases import cancel_unpaid, overdue
from services.orders.settings import OrdersSettings
from shared.platform.worker import Blocked, IdSource, WorkerSettings


@dataclass
class UnpaidSource(IdSource):
    """Overdue unpaid orders, earliest due first; the item is the order id."""

    ctx: OrdersContext
    name = "orders-unpaid-sweeper"

    async def due(self, now: datetime, limit: int, blocked: Blocked) -> list[str]:
        return await overdue(self.ctx, now, limit, blocked)

    async def process(self, item: str) -> None:
        await cancel_unpaid(self.ctx, item)  # False (paid meanwhile) is a success too: nothing left to do


def sweeper_worker(settings: OrdersSettings) -> WorkerSettings:
    """A few cancellations at once; a failing one backs off from `sweeper_backoff_seconds` doubling to 5
    minutes and is quarantined after `sweeper_max_attempts` (about 13 minutes of failures with the
    defaults)."""
    return WorkerSettings.from_settings(settings, "sweeper", concurrency=4)


@dataclass
class ExpiryReminderSource(IdSource):
    """Orders whose next expiry (or trial → commercial) reminder is due: 15, 7, 3 and 1 days before the
    validity ends, at 10:00 Beijing time (dossier §6.3). The due time is on the order (`next_reminder_at`), so
    it survives restarts; each reminder and its notice commit in one unit of work, once each."""

    ctx: OrdersContext
    name = "orders-expiry-reminders"

    async def due(self, now: datetime, limit: int, blocked: Blocked) -> list[str]:
        return await reminders_due(self.ctx, now, limit, blocked)

    async def process(self, item: str) -> None:
        await send_expiry_reminder(self.ctx, item)
