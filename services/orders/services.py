"""Use cases: load, decide (domain), save state and outgoing events in one unit of work."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, EmailStr, Field

from services.orders.domain import Account, Order
from services.orders.store import OrdersUnitOfWork
from shared.platform.errors import InvalidInput, NotFound
from shared.platform.mongo import UnitOfWorkFactory
from shared.platform.validation import E164Phone
from shared.schemas import AcceptanceDone, AccountRole, ProductSnapshot

CONSUMER = "orders"


class RegisterAccount(BaseModel):
    account_id: str = Field(default_factory=lambda: f"acc-{uuid.uuid4().hex[:12]}", min_length=3, max_length=64)
    role: AccountRole
    display_name: str = Field(min_length=1, max_length=128)
    bound_email: EmailStr
    bound_phone: E164Phone = Field(description="International number, stored as E.164 (+8613800001234)")
    locale: Literal["zh-CN", "en-US"] = "zh-CN"


class PlaceOrder(BaseModel):
    merchant_account_id: str = Field(min_length=1, max_length=64)
    provider_id: str | None = Field(default=None, max_length=64)
    product: ProductSnapshot
    amount: Decimal = Field(gt=Decimal(0), max_digits=14, decimal_places=2)
    currency: str = Field("CNY", pattern=r"^[A-Z]{3}$")


def _correlation() -> str:
    return uuid.uuid4().hex


class OrdersService:
    def __init__(self, uow: UnitOfWorkFactory[OrdersUnitOfWork]) -> None:
        self.uow = uow

    async def register_account(self, cmd: RegisterAccount) -> Account:
        account = Account(**cmd.model_dump(), created_at=datetime.now(UTC))

        async def work(uow: OrdersUnitOfWork) -> Account:
            if await uow.accounts.get(account.account_id) is not None:
                raise InvalidInput(f"account {account.account_id} already exists", field="account_id")
            await uow.accounts.add(account)
            uow.emit(account.registered(_correlation()))
            await uow.commit()
            return account

        return await self.uow.run(work)

    async def get_account(self, account_id: str) -> Account:
        async with self.uow() as uow:
            account = await uow.accounts.get(account_id)
        if account is None:
            raise NotFound(f"account {account_id} does not exist")
        return account

    async def place_order(self, buyer: str, cmd: PlaceOrder) -> Order:
        async def work(uow: OrdersUnitOfWork) -> Order:
            for field, account_id, role in (("X-Account-Id", buyer, AccountRole.BUYER),
                                            ("merchant_account_id", cmd.merchant_account_id, AccountRole.MERCHANT)):
                account = await uow.accounts.get(account_id)
                if account is None or account.role is not role:
                    raise InvalidInput(f"{account_id} is not a registered {role.value} account", field=field)
            now = datetime.now(UTC)
            order = Order(order_id=Order.new_id(now), buyer_account_id=buyer, created_at=now,
                          **cmd.model_dump(exclude={"product"}), product=cmd.product)
            await uow.orders.add(order)
            await uow.commit()
            return order

        return await self.uow.run(work)

    async def pay(self, order_id: str, payer: str) -> Order:
        async def work(uow: OrdersUnitOfWork) -> Order:
            order = await self._load(uow, order_id)
            uow.emit(*order.pay(payer, datetime.now(UTC), _correlation()))
            await uow.orders.save(order)
            await uow.commit()
            return order

        return await self.uow.run(work)

    async def get_order(self, order_id: str, viewer: str) -> Order:
        async with self.uow() as uow:
            order = await self._load(uow, order_id)
        order.visible_to(viewer)
        return order

    async def on_acceptance_done(self, event: AcceptanceDone) -> bool:
        """Complete the order; False when this event was already processed."""

        async def work(uow: OrdersUnitOfWork) -> bool:
            if not await uow.claim(CONSUMER, event):
                return False
            order = await self._load(uow, event.payload.order_id)
            order.complete_after_acceptance(event.payload.accepted_at, event.payload.actual_activation_time)
            await uow.orders.save(order)
            await uow.commit()
            return True

        return await self.uow.run(work)

    @staticmethod
    async def _load(uow: OrdersUnitOfWork, order_id: str) -> Order:
        order = await uow.orders.get(order_id)
        if order is None:
            raise NotFound(f"order {order_id} does not exist", field="order_id")
        return order
