"""What every use case of the service is given, built once by the composition root (app.py), as
cosmicpython's bootstrap does: the runner of units of work, the dispatcher's wake-up, the clock, the settings,
and the parking of events that came too early."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Protocol

from services.notification.settings import NotificationSettings
from services.notification.store import NotificationUnitOfWork
from services.notification.store.deliveries import ProviderStatus
from shared.platform.groupcommit import GroupCommit
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

    @cached_property
    def sms_statuses(self) -> GroupCommit[ProviderStatus]:
        """The SMS provider's status callbacks: those that arrive together are written together."""
        return GroupCommit(self._write_sms_statuses)

    async def _write_sms_statuses(self, statuses: list[ProviderStatus]) -> None:
        # Conditional updates of one delivery each, atomic by themselves: no transaction (two round trips).
        async def work(uow: NotificationUnitOfWork) -> None:
            await uow.deliveries.record_provider_statuses(statuses)
            await uow.commit()

        await self.uow.run(work, transaction=False)
