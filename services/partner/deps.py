"""What partner's use cases run on, made once by the composition root (app.py) and by the tests on fakes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from services.partner.egress import Resolver, resolve
from services.partner.settings import PartnerSettings
from services.partner.store import PartnerUnitOfWork
from shared.platform.mongo import UnitOfWorkFactory


def now() -> datetime:
    return datetime.now(UTC)


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Deps:
    uow: UnitOfWorkFactory[PartnerUnitOfWork]  # the shared runner over partner's unit of work
    settings: PartnerSettings
    clock: Callable[[], datetime] = now
    resolver: Resolver = resolve  # how a merchant endpoint's host is resolved when it is saved
    nudge: Callable[[], None] = _nothing  # wakes the merchant-call worker after a call is queued or replayed
