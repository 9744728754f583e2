"""What every use case of the orders service is given (`OrdersContext`: the runner of units of work, the read
side, settings, a clock), and the loading steps they share."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from pydantic import BaseModel

from services.orders.accounts import Account
from services.orders.domain import Order
from services.orders.queries import OrdersQueries
from services.orders.settings import OrdersSettings
from services.orders.store import OrdersUnitOfWork
from shared.platform.auth import Principal
from shared.platform.errors import DomainError, Forbidden, InvalidInput, NotFound, NotYetKnown
from shared.platform.mongo import UnitOfWorkFactory
from shared.platform.repository import AggregateRepository
from shared.schemas import AccountRole, Event

CONSUMER = "orders"  # the inbox's name for the events this service consumes
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def correlation() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class OrdersContext:
    uow: UnitOfWorkFactory[OrdersUnitOfWork]
    queries: OrdersQueries
    settings: OrdersSettings = field(default_factory=OrdersSettings)
    clock: Clock = utc_now


class ProfileRequired(DomainError):
    code = "profile_required"


async def load_order(uow: OrdersUnitOfWork, order_id: str) -> Order:
    order = await uow.orders.get(order_id)
    if order is None:
        raise NotFound(f"order {order_id} does not exist", field="order_id")
    return order


async def known_order(uow: OrdersUnitOfWork, order_id: str) -> Order:
    """The order another service's event is about. One rule for every consumer: an event about an aggregate
    the service has not seen is "not yet known", never poison at once; it is parked, tried again with backoff,
    and dead-lettered with this reason after the parking's bound (a day, shared/platform/parking.py). Orders
    creates its orders itself (an order exists before any event about it), so nothing here announces an
    arrival: such an event is tried again on the parking's backoff until the bound."""
    order = await uow.orders.get(order_id)
    if order is None:
        raise NotYetKnown(order_id, f"order {order_id} is not known to the orders service (yet)")
    return order


async def own_profile(uow: OrdersUnitOfWork, caller: Principal, role: AccountRole) -> Account:
    """The caller's own profile, for a use case only `role` may run (the route already checked the token's
    role; this is the same rule at the use case, for callers that are not routes)."""
    if caller.role is not role:
        raise Forbidden(f"only {role.value} accounts may do this", rule=f"{role.value}s_only")
    account = await uow.accounts.get(caller.account_id)
    if account is None:
        raise ProfileRequired(
            f"account {caller.account_id} has no profile yet: register it with POST /accounts first",
            field="account",
        )
    return account


M = TypeVar("M", bound=BaseModel)
Repository = Callable[[OrdersUnitOfWork], AggregateRepository[M]]  # which of the unit of work's repositories
Change = Callable[[OrdersUnitOfWork, M], Awaitable[list[Event]]]


async def change(ctx: OrdersContext, repository: Repository[M], key: str, what: str, decide: Change[M]) -> M:
    """One command on one aggregate: load it (NotFound naming `what` when it is not there), let `decide`
    change it (and touch what else it must in the same unit of work), save it with the events it caused,
    commit."""

    async def work(uow: OrdersUnitOfWork) -> M:
        repo = repository(uow)
        item = await repo.get(key)
        if item is None:
            raise NotFound(f"{what} {key} does not exist", field=f"{what}_id")
        uow.emit(*await decide(uow, item))
        await repo.save(item)
        await uow.commit()
        return item

    return await ctx.uow.run(work)


async def change_order(ctx: OrdersContext, order_id: str, decide: Change[Order]) -> Order:
    return await change(ctx, lambda uow: uow.orders, order_id, "order", decide)


async def add(
    ctx: OrdersContext, repository: Repository[M], what: str, make: Callable[[OrdersUnitOfWork], Awaitable[M]]
) -> M:
    """One command that creates one aggregate: `make` builds it (and checks what it must), and it is added
    unless its id is taken (InvalidInput naming `what`)."""

    async def work(uow: OrdersUnitOfWork) -> M:
        item = await make(uow)
        repo = repository(uow)
        if await repo.get(repo.key(item)) is not None:
            raise InvalidInput(f"{what} {repo.key(item)} already exists", field=f"{what}_id")
        await repo.add(item)
        await uow.commit()
        return item

    return await ctx.uow.run(work)
