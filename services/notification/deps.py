"""What every use case of the service is given, built once by the composition root (app.py), as
cosmicpython's bootstrap does: the runner of units of work, the dispatcher's wake-up, the clock, the settings,
and the parking of events that came too early."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from services.notification.settings import NotificationSettings
from services.notification.store import NotificationUnitOfWork
from shared.platform.mongo import UnitOfWorkFactory

CONSUMER = "notification"  # the inbox's consumer name: an event's id is claimed once per service


def utcnow() -> datetime:
    return datetime.now(UTC)


def nothing() -> None:
    return None


class Arrivals(Protocol):
    """The parking of not-yet-known events (shared/platform/parking.py): told when an aggregate arrives."""

    async def arrived(self, *aggregates: str) -> None: ...


@dataclass(frozen=True)
class Deps:
    uow: UnitOfWorkFactory[NotificationUnitOfWork]
    queued: Callable[[], None] = nothing  # wakes the dispatcher after a commit that may have queued some
    clock: Callable[[], datetime] = utcnow
    settings: NotificationSettings = field(default_factory=NotificationSettings)
    parking: Arrivals | None = None  # None in service tests without a parking
