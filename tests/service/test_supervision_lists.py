"""The service-order lists (dossier §9.2: buyers and merchants manage their service orders; §2.1: the seller
center lists order id, product name, amount, status and order time), over in-memory fakes behind the real
token check."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.schemas import DeliveryType, Parties
from tests.factories import order_paid, rid
from tests.service.supervision_env import Env, People


@pytest.fixture
def env() -> Env:
    return Env()


def ids(page: dict[str, Any]) -> list[str]:
    return [row["order_id"] for row in page["service_orders"]]


async def three_orders(env: Env) -> tuple[People, list[str], str]:
    """Three service orders of one buyer and merchant, an hour apart (oldest first), and one of a stranger."""
    p = Parties(buyer_account_id=rid("buyer"), merchant_account_id=rid("merchant"))
    orders = []
    for kind in (DeliveryType.MANUAL_SERVICE, DeliveryType.HARDWARE, DeliveryType.MANUAL_SERVICE):
        orders.append((await env.open(event=order_paid(p, delivery_type=kind))).order_id)
        env.clock.now += timedelta(hours=1)
    stranger = (await env.open()).order_id
    return People.of(p), orders, stranger


async def test_each_party_lists_its_own_service_orders_newest_first_with_what_a_row_shows(env: Env) -> None:
    who, orders, stranger = await three_orders(env)

    mine = await env.call("GET", "/service-orders", who.buyer)
    assert ids(mine) == orders[::-1]
    assert mine["next_cursor"] is None
    sold = await env.call("GET", "/service-orders", who.merchant)
    assert ids(sold) == orders[::-1]
    everyone = await env.call("GET", "/service-orders", who.operator)
    assert ids(everyone)[0] == stranger
    assert set(orders) <= set(ids(everyone))

    row = mine["service_orders"][-1]
    assert row["service_order_id"] == f"SO-{orders[0]}"
    assert row["product_name"] == "Data migration service"
    assert row["amount"] == "100.00"
    assert row["currency"] == "CNY"
    assert row["status"] == "active"
    assert row["node"]
    assert row["created_at"]
    # What happens next, and when: the running deadline nearest in time.
    assert row["next_deadline"] is None or row["next_deadline"]["due_at"] > row["created_at"]
    assert "timeline" not in row
    assert "evidence" not in row

    # Another buyer or merchant sees none of them; a provider is refused.
    assert ids(await env.call("GET", "/service-orders", who.other_buyer)) == []
    assert ids(await env.call("GET", "/service-orders", who.other_merchant)) == []
    await env.refused("GET", "/service-orders", who.provider, "parties")


async def test_the_list_filters_and_pages_with_a_cursor(env: Env) -> None:
    who, orders, _ = await three_orders(env)

    hardware = await env.call("GET", "/service-orders", who.buyer, params={"delivery_type": "hardware"})
    assert ids(hardware) == [orders[1]]
    one = await env.call("GET", "/service-orders", who.merchant, params={"order_id": orders[2]})
    assert ids(one) == [orders[2]]
    assert ids(await env.call("GET", "/service-orders", who.buyer, params={"status": "completed"})) == []

    start = env.clock.now - timedelta(hours=2, minutes=30)  # after the first order, before the second
    window = {"created_from": start.isoformat(), "created_to": (start + timedelta(hours=1)).isoformat()}
    assert ids(await env.call("GET", "/service-orders", who.buyer, params=window)) == [orders[1]]

    first = await env.call("GET", "/service-orders", who.buyer, params={"limit": 2})
    assert ids(first) == [orders[2], orders[1]]
    assert first["next_cursor"]
    rest = await env.call(
        "GET", "/service-orders", who.buyer, params={"limit": 2, "cursor": first["next_cursor"]}
    )
    assert ids(rest) == [orders[0]]
    assert rest["next_cursor"] is None


async def test_bad_list_input_is_a_4xx_naming_the_field(env: Env) -> None:
    who, _, _ = await three_orders(env)
    bad = await env.call("GET", "/service-orders", who.buyer, expect=422, params={"cursor": "not-a-cursor"})
    assert bad["detail"]["field"] == "cursor"
    now = env.clock.now.isoformat()
    backwards = await env.call(
        "GET", "/service-orders", who.buyer, expect=422, params={"created_from": now, "created_to": now}
    )
    assert backwards["detail"]["field"] == "created_from"
    too_many = await env.call("GET", "/service-orders", who.buyer, expect=422, params={"limit": 1000})
    assert "limit" in str(too_many)
    unknown = await env.call("GET", "/service-orders", who.buyer, expect=422, params={"status": "lost"})
    assert "status" in str(unknown)
