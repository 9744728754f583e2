"""Orders applies partner's product.frozen to its catalogue (dossier §8.2.2, §8.2.8): the product leaves the
public catalogue and a new purchase of it is refused; a redelivered event changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.orders import event_cases, order_cases
from services.orders.commands import PlaceOrder
from services.orders.context import OrdersContext
from shared.platform.errors import InvalidInput
from shared.platform.fakes import FakeState
from shared.schemas import AccountRole, ProductFrozen, ProductFrozenPayload
from tests.factories import rid
from tests.service.orders_support import in_memory, listed, one_time, person


def frozen(product_id: str, merchant: str, measure: str = "frozen") -> ProductFrozen:
    return ProductFrozen(
        producer="partner",
        correlation_id=rid("corr"),
        payload=ProductFrozenPayload.model_validate(
            {
                "product_id": product_id,
                "merchant_account_id": merchant,
                "measure": measure,
                "cause": "dial_tests" if measure == "frozen" else "interface_failures",
                "detail": "the dial tests failed on 5 consecutive days",
                "decided_at": datetime.now(UTC),
            }
        ),
    )


@pytest.fixture
def ctx() -> OrdersContext:
    return in_memory(FakeState())


@pytest.mark.parametrize("measure", ["frozen", "delisted"])
async def test_a_frozen_or_delisted_product_can_no_longer_be_bought(ctx: OrdersContext, measure: str) -> None:
    merchant = await person(ctx, AccountRole.MERCHANT)
    operator = await person(ctx, AccountRole.OPERATOR)
    buyer = await person(ctx, AccountRole.BUYER)
    pid = await listed(ctx, merchant, operator, **one_time(delivery_type="saas_instant"))
    await order_cases.place_order(ctx, buyer, PlaceOrder(product_id=pid))  # on sale before

    event = frozen(pid, merchant.account_id, measure)
    assert await event_cases.handle(ctx, event)
    assert not await event_cases.handle(ctx, event)  # a redelivery is a duplicate

    with pytest.raises(InvalidInput, match="not listed") as refused:
        await order_cases.place_order(ctx, buyer, PlaceOrder(product_id=pid))
    assert refused.value.field == "product_id"
    assert pid not in [p.product_id for p in await ctx.queries.listed_products()]


async def test_a_delisting_is_never_weakened_to_a_freeze(ctx: OrdersContext) -> None:
    merchant = await person(ctx, AccountRole.MERCHANT)
    operator = await person(ctx, AccountRole.OPERATOR)
    pid = await listed(ctx, merchant, operator, **one_time(delivery_type="saas_instant"))

    await event_cases.handle(ctx, frozen(pid, merchant.account_id, "delisted"))
    await event_cases.handle(ctx, frozen(pid, merchant.account_id, "frozen"))

    async def status(uow: object) -> str:
        product = await uow.products.get(pid)  # type: ignore[attr-defined]
        return str(product.status)

    assert await ctx.uow.run(status) == "delisted"
