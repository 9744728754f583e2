"""What the orders service tests share: the use cases' context over the in-memory unit of work, verified
callers (as the token would name them), their registered profiles, products listed through the catalogue (a
merchant publishes, an operator approves), and a fake parking for events about what a service has not seen
yet."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.orders import account_cases, catalogue_cases
from services.orders.commands import CreateProduct, PayOrder, RegisterAccount, Review
from services.orders.context import Clock, OrdersContext, utc_now
from services.orders.domain import Order
from services.orders.queries import OrdersQueries
from services.orders.settings import OrdersSettings
from services.orders.store import fake_uow
from shared.platform.auth import Principal
from shared.platform.errors import NotYetKnown
from shared.platform.fakes import FakeState
from shared.platform.mongo import UnitOfWorkFactory
from shared.schemas import (
    AccountRole,
    AppealOutcome,
    AppealRaised,
    AppealRaisedPayload,
    AppealResolved,
    AppealResolvedPayload,
    Parties,
    PartyRole,
)
from tests.factories import rid


def in_memory(
    state: FakeState, settings: OrdersSettings | None = None, clock: Clock = utc_now
) -> OrdersContext:
    """The use cases' context on `state`: units of work staged in memory, the read side on its committed
    tables."""
    return OrdersContext(
        UnitOfWorkFactory(fake_uow(state)),
        OrdersQueries(state.collections()),
        settings or OrdersSettings(),
        clock,
    )


def principal(
    role: AccountRole | str, account_id: str | None = None, *, email: str | None = None
) -> Principal:
    """The caller a verified token names: its subject, one realm role, the identity provider's verified
    email."""
    name = str(role)
    account_id = account_id or rid(name)
    return Principal(
        account_id=account_id,
        roles=frozenset({name}),
        email=email or f"{account_id}@example.com",
        email_verified=True,
    )


async def person(
    ctx: OrdersContext,
    role: AccountRole,
    *,
    email: str | None = None,
    display_name: str | None = None,
    phone: str = "+8613800001234",
) -> Principal:
    """A caller with its profile registered (POST /accounts)."""
    caller = principal(role, email=email)
    await account_cases.register_account(
        ctx, caller, RegisterAccount(display_name=display_name or f"{role.value} Co", bound_phone=phone)
    )
    return caller


def product_cmd(**over: Any) -> CreateProduct:
    """A supervised yearly service at 1,200.00 unless `over` says otherwise."""
    body: dict[str, Any] = {
        "name": "Cloud migration",
        "delivery_type": "manual_service",
        "flow_template": "standard",
        "promised_delivery_days": 10,
        "acceptance_standard": "signed SOW",
        "specifications": [
            {
                "spec_id": "y1",
                "name": "Yearly",
                "billing_mode": "periodic_yearly",
                "price": "1200.00",
                "period_months": 12,
            }
        ],
    }
    return CreateProduct.model_validate({**body, **over})


def one_time(price: str = "100.00", **over: Any) -> dict[str, Any]:
    """`product_cmd` overrides for a product sold once at `price`."""
    return {
        "specifications": [{"spec_id": "once", "name": "Once", "billing_mode": "one_time", "price": price}],
        **over,
    }


async def listed(ctx: OrdersContext, merchant: Principal, operator: Principal, **over: Any) -> str:
    """A product the merchant created and published and an operator approved: on sale in the catalogue."""
    product = await catalogue_cases.create_product(ctx, merchant, product_cmd(**over))
    await catalogue_cases.publish(ctx, product.product_id, merchant)
    await catalogue_cases.review(ctx, product.product_id, operator, Review(approve=True))
    return product.product_id


def payment(order: Order, **over: Any) -> PayOrder:
    """The payment system's confirmation of the order's full amount."""
    return PayOrder.model_validate({"payment_id": rid("pay"), "amount": order.amount, **over})


def appeal_raised(
    p: Parties, order_id: str, appeal_id: str = "AP-1", reason: str = "not delivered"
) -> AppealRaised:
    """Supervision's appeal.raised: the buyer appealed on the order's service order."""
    return AppealRaised(
        producer="supervision",
        correlation_id=rid("corr"),
        order_id=order_id,
        payload=AppealRaisedPayload(
            appeal_id=appeal_id,
            service_order_id=f"SO-{order_id}",
            order_id=order_id,
            raised_by_role=PartyRole.BUYER,
            raised_by_account_id=p.buyer_account_id,
            node="deliver",
            reason=reason,
            demands="a refund",
            parties=p,
            raised_at=datetime.now(UTC),
        ),
    )


def appeal_resolved(
    p: Parties, order_id: str, outcome: AppealOutcome, appeal_id: str = "AP-1", operator: str = "op-1"
) -> AppealResolved:
    """Supervision's appeal.resolved: the platform operator's decision on the appeal."""
    return AppealResolved(
        producer="supervision",
        correlation_id=rid("corr"),
        order_id=order_id,
        payload=AppealResolvedPayload(
            appeal_id=appeal_id,
            service_order_id=f"SO-{order_id}",
            order_id=order_id,
            outcome=outcome,
            resolved_by_account_id=operator,
            note="checked with both",
            parties=p,
            resolved_at=datetime.now(UTC),
        ),
    )


@dataclass
class FakeParking:
    """The parking as the delivery middleware and the handlers see it: what was parked (topic, reason,
    consumer group) and which aggregates were announced as arrived. The real one is
    shared/platform/parking.py."""

    parked: list[tuple[str, NotYetKnown, str]] = field(default_factory=list)
    arrivals: list[str] = field(default_factory=list)

    async def park(self, record: Any, exc: NotYetKnown, group: str) -> None:
        self.parked.append((record.topic, exc, group))

    async def arrived(self, *aggregates: str) -> None:
        self.arrivals.extend(aggregates)

    def install(self, rig: Any) -> FakeParking:
        """Park in `rig` (a tests.service.rig.Rig) as the runtime does: on its delivery policy, in its
        context."""
        rig.policy.parking = self
        rig.broker.context.set_global("parking", self)
        return self
