"""What supervision's use cases run on, and the one shape of a change.

Every use case is a function taking `SupervisionService`: the commands in flow_cases.py, the consumed events
in event_cases.py. A change goes through `change`: one unit of work of the shared runner
(shared/platform/mongo.py) that loads the service order, asks the domain, and saves the new state, its rows in
`timers` and its events in the outbox, all in one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from services.supervision import checkpoints
from services.supervision.checkpoints import TimelineKeys
from services.supervision.evidence import Limits
from services.supervision.rules import Policy
from services.supervision.service_order import ServiceOrder
from services.supervision.store import SupervisionUnitOfWork
from shared.platform.errors import NotFound
from shared.platform.mongo import UnitOfWorkFactory
from shared.schemas import Event, PartyRole

CONSUMER = "supervision"
Decide = Callable[[ServiceOrder], list[Event]]
DecideIn = Callable[[ServiceOrder, SupervisionUnitOfWork], Awaitable[list[Event]]]


def utcnow() -> datetime:
    return datetime.now(UTC)


def correlation() -> str:
    """A new correlation id, for a change a caller started (a consumed event carries its own)."""
    return uuid.uuid4().hex


@dataclass
class SupervisionService:
    """The runner every use case runs on, and what the rules are parameterised with: the deadlines and
    thresholds (`policy`), the clock, the evidence upload limits, and the timeline's signing keys with the
    number of entries between two signed checkpoints (checkpoints.py)."""

    uow: UnitOfWorkFactory[SupervisionUnitOfWork]
    policy: Policy = field(default_factory=Policy)
    clock: Callable[[], datetime] = utcnow
    limits: Limits = field(default_factory=Limits)
    keys: TimelineKeys = field(default_factory=TimelineKeys.generate)
    checkpoint_every: int = 50


async def change(sv: SupervisionService, so_id: str, decide: Decide) -> ServiceOrder:
    """Load the service order, let the domain decide, save it with its timers and events: one transaction."""

    async def with_uow(so: ServiceOrder, _: SupervisionUnitOfWork) -> list[Event]:
        return decide(so)

    return await change_in(sv, so_id, with_uow)


async def change_in(sv: SupervisionService, so_id: str, decide: DecideIn) -> ServiceOrder:
    """`change` for a decision that also reads or writes through the unit of work (e.g. evidence files)."""

    async def work(uow: SupervisionUnitOfWork) -> ServiceOrder:
        so = await load(uow, so_id)
        events = await decide(so, uow)
        seal(sv, so)
        await save(uow, so, events)
        await uow.commit()
        return so

    return await sv.uow.run(work)


async def load(uow: SupervisionUnitOfWork, so_id: str) -> ServiceOrder:
    so = await uow.service_orders.get(so_id)
    if so is None:
        raise NotFound(f"service order {so_id} does not exist")
    return so


def seal(sv: SupervisionService, so: ServiceOrder) -> None:
    """A signed checkpoint on the timeline once `checkpoint_every` entries followed the last one (or the
    start): the chain's head and count, signed (checkpoints.py)."""
    entries = so.timeline
    last = max((e.seq for e in entries if e.action == checkpoints.ACTION), default=0)
    if len(entries) - last >= sv.checkpoint_every:
        now = sv.clock()
        signed = sv.keys.sign(checkpoints.PERIODIC, so.service_order_id, [e.hash for e in entries], now)
        so.log.record(now, PartyRole.SYSTEM, None, checkpoints.ACTION, so.where, so.node, details=signed)


async def save(uow: SupervisionUnitOfWork, so: ServiceOrder, events: list[Event]) -> None:
    """The service order, its rows in `timers` and its events in the outbox: one transaction (committed by the
    runner or the caller)."""
    uow.emit(*events)
    await uow.service_orders.save(so)
    await uow.timers.sync(so)
    await uow.appeal_queue.sync(so)
