"""What every group of use cases shares: the unit of work, settings, an injectable clock, loading helpers."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from services.orders.domain import Account, Order
from services.orders.settings import OrdersSettings
from services.orders.store import OrdersUnitOfWork
from shared.platform.errors import Forbidden, InvalidInput, NotFound
from shared.platform.mongo import UnitOfWorkFactory
from shared.schemas import AccountRole

CONSUMER = "orders"
Clock = Callable[[], datetime]


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
    async def _role(uow: OrdersUnitOfWork, account_id: str, role: AccountRole, field: str = "X-Account-Id",
                    refuse: type[InvalidInput] | type[Forbidden] = InvalidInput) -> Account:
        account = await uow.accounts.get(account_id)
        if account is None or account.role is not role:
            raise refuse(f"{account_id} is not a registered {role.value} account", field=field)
        return account
