"""What the orders service tests share: verified callers (as the token would name them), their registered
profiles, products listed through the catalogue (a merchant publishes, an operator approves), and a fake parking
for events about what a service has not seen yet."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.orders.commands import CreateProduct, PayOrder, RegisterAccount, Review
from services.orders.domain import Order
from services.orders.services import OrdersService
from shared.platform.auth import Principal
from shared.platform.errors import NotYetKnown
from shared.schemas import AccountRole
from tests.factories import rid


def principal(role: AccountRole | str, account_id: str | None = None, *, email: str | None = None) -> Principal:
    """The caller a verified token names: its subject, one realm role, the identity provider's verified email."""
    name = str(role)
    account_id = account_id or rid(name)
    return Principal(account_id=account_id, roles=frozenset({name}), email=email or f"{account_id}@example.com",
                     email_verified=True)


async def person(svc: OrdersService, role: AccountRole, *, email: str | None = None,
                 display_name: str | None = None, phone: str = "+8613800001234") -> Principal:
    """A caller with its profile registered (POST /accounts)."""
    caller = principal(role, email=email)
    await svc.register_account(caller, RegisterAccount(display_name=display_name or f"{role.value} Co",
                                                       bound_phone=phone))
    return caller


def product_cmd(**over: Any) -> CreateProduct:
    """A supervised yearly service at 1,200.00 unless `over` says otherwise."""
    body: dict[str, Any] = {"name": "Cloud migration", "delivery_type": "manual_service", "flow_template": "standard",
                            "promised_delivery_days": 10, "acceptance_standard": "signed SOW",
                            "specifications": [{"spec_id": "y1", "name": "Yearly", "billing_mode": "periodic_yearly",
                                                "price": "1200.00", "period_months": 12}]}
    return CreateProduct.model_validate({**body, **over})


def one_time(price: str = "100.00", **over: Any) -> dict[str, Any]:
    """`product_cmd` overrides for a product sold once at `price`."""
    return {"specifications": [{"spec_id": "once", "name": "Once", "billing_mode": "one_time", "price": price}],
            **over}


async def listed(svc: OrdersService, merchant: Principal, operator: Principal, **over: Any) -> str:
    """A product the merchant created and published and an operator approved: on sale in the catalogue."""
    product = await svc.create_product(merchant, product_cmd(**over))
    await svc.publish(product.product_id, merchant)
    await svc.review(product.product_id, operator, Review(approve=True))
    return product.product_id


def payment(order: Order, **over: Any) -> PayOrder:
    """The payment system's confirmation of the order's full amount."""
    return PayOrder.model_validate({"payment_id": rid("pay"), "amount": order.amount, **over})


@dataclass
class FakeParking:
    """The parking as the delivery middleware and the handlers see it: what was parked (topic, reason, consumer
    group) and which aggregates were announced as arrived. The real one is shared/platform/parking.py."""

    parked: list[tuple[str, NotYetKnown, str]] = field(default_factory=list)
    arrivals: list[str] = field(default_factory=list)

    async def park(self, record: Any, exc: NotYetKnown, group: str) -> None:
        self.parked.append((record.topic, exc, group))

    async def arrived(self, aggregate: str) -> None:
        self.arrivals.append(aggregate)

    def install(self, rig: Any) -> FakeParking:
        """Park in `rig` (a tests.service.rig.Rig) as the runtime does: on its delivery policy, in its context."""
        rig.policy.parking = self
        rig.broker.context.set_global("parking", self)
        return self
