"""What every group of use cases shares: the unit of work, settings, an injectable clock, loading helpers."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from services.orders.domain import Account, Order
from services.orders.settings import OrdersSettings
from services.orders.store import OrdersUnitOfWork
from shared.platform.auth import Principal
from shared.platform.errors import DomainError, Forbidden, NotFound
from shared.platform.mongo import UnitOfWorkFactory
from shared.schemas import AccountRole

CONSUMER = "orders"
Clock = Callable[[], datetime]


class ProfileRequired(DomainError):
    code = "profile_required"


def correlation() -> str:
    return uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(UTC)


class Base:
    def __init__(self, uow: UnitOfWorkFactory[OrdersUnitOfWork], settings: OrdersSettings | None = None,
                 clock: Clock = utc_now) -> None:
        self.uow = uow
        self.settings = settings or OrdersSettings()
        self.clock = clock

    @staticmethod
    async def _load(uow: OrdersUnitOfWork, order_id: str) -> Order:
        order = await uow.orders.get(order_id)
        if order is None:
            raise NotFound(f"order {order_id} does not exist", field="order_id")
        return order

    @staticmethod
    async def _profile(uow: OrdersUnitOfWork, caller: Principal, role: AccountRole) -> Account:
        """The caller's own profile, for a use case only `role` may run (the route already checked the token's
        role; this is the same rule at the use case, for callers that are not routes)."""
        if caller.role is not role:
            raise Forbidden(f"only {role.value} accounts may do this", rule=f"{role.value}s_only")
        account = await uow.accounts.get(caller.account_id)
        if account is None:
            raise ProfileRequired(f"account {caller.account_id} has no profile yet: register it with "
                                  "POST /accounts first", field="account")
        return account
