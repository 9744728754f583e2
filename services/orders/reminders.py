"""Reminders: the buyer's reminder to the seller (催促, dossier §9.2) and its rate limit, and the schedule of
the expiry and trial → commercial reminders (dossier §6.3). Pure.

- 催促: the buyer of a paid order still in progress may remind its merchant once per order per 24 hours.
  [?] Neither the dossier nor the seed pages give a limit (the seed's "如何管理您购买的服务" page does not
  mention reminders); once a day per order is our choice, so a merchant is not flooded and a buyer can still
  nudge daily. A refused reminder says when the next one is allowed.
- Expiry reminders: 15, 7, 3 and 1 days before a periodic order's (or a trial's) validity ends, at 10:00
  Beijing time, once each (dossier §6.3, "at 15, 7, 3 and 1 days before expiry, at 10:00"). A day is a Beijing
  calendar day: "N days before" is 10:00 on the Beijing date N days before the expiry's Beijing date.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from shared.platform.errors import DomainError, LimitReached
from shared.schemas import OrderStatus
from shared.workdays import BEIJING

REMIND_EVERY = timedelta(hours=24)
REMINDER_DAYS = (15, 7, 3, 1)
REMINDER_HOUR = time(10, 0)


class RemindTooSoon(LimitReached):
    """A 429: the order's merchant was reminded less than 24 hours ago."""

    def __init__(self, order_id: str, allowed_at: datetime, now: datetime) -> None:
        super().__init__(
            f"order {order_id}'s merchant was reminded less than 24 hours ago; the next reminder is allowed "
            f"at {allowed_at.isoformat()}",
            field="order_id",
            rule="one_reminder_per_order_per_day",
        )
        self.allowed_at = allowed_at
        self.retry_after = max(1, int((allowed_at - now).total_seconds() + 0.999))


def check_reminder(order_id: str, status: OrderStatus, last: datetime | None, now: datetime) -> None:
    """A reminder is for a paid order the merchant has not finished (处理中, dossier §1.3), at most once a
    day."""
    if status is not OrderStatus.PROCESSING:
        raise DomainError(
            f"order {order_id} is {status.value}; only a paid order in progress can be reminded",
            field="status",
        )
    if last is not None and now < last + REMIND_EVERY:
        raise RemindTooSoon(order_id, last + REMIND_EVERY, now)


def reminder_at(expires_at: datetime, days: int) -> datetime:
    """10:00 Beijing time on the Beijing date `days` days before the expiry's Beijing date."""
    day = expires_at.astimezone(BEIJING).date() - timedelta(days=days)
    return datetime.combine(day, REMINDER_HOUR, tzinfo=BEIJING)


def schedule(expires_at: datetime) -> list[tuple[int, datetime]]:
    """The reminders of a validity ending at `expires_at`, earliest first, each with its days left."""
    return [(d, reminder_at(expires_at, d)) for d in REMINDER_DAYS]


def due(expires_at: datetime, sent: list[int], now: datetime) -> tuple[int | None, list[int]]:
    """The reminder to send now, if any, and the earlier ones it makes pointless (a sweeper that was away
    past two reminder times tells "3 days left", not "7 days left" too late). Nothing once expired."""
    if now >= expires_at:
        return None, []
    passed = [d for d, at in schedule(expires_at) if at <= now and d not in sent]
    if not passed:
        return None, []
    latest = min(passed)  # the fewest days left
    return latest, [d for d in passed if d != latest]


def next_at(expires_at: datetime, sent: list[int]) -> datetime | None:
    """When the next reminder not sent (nor skipped) is due; None when none is left."""
    pending = [at for d, at in schedule(expires_at) if d not in sent]
    return min(pending) if pending else None
