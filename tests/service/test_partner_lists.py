"""Issue 15: the partner's lists of offers and demands on their real routes, with in-memory fakes and
test-signed tokens: each party sees its own, strangers see none, the filters narrow, the keyset pages neither
skip nor repeat a row, and bad input is a 422 naming the field."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.factories import rid
from tests.service.test_partner_api import NOW, Partner, person, window


@pytest.fixture
def partner() -> Partner:
    found = Partner()
    ticks = itertools.count()
    clock: Callable[[], datetime] = lambda: NOW + timedelta(seconds=next(ticks))  # noqa: E731
    found.app.state.deps = replace(found.app.state.deps, clock=clock)  # each record a second newer
    return found


def offer_body(product: str, discount: str = "0.1", customer: str = "c") -> dict[str, Any]:
    return {
        "name": "n",
        "customer_account_id": customer,
        "product_ids": [product],
        "discount": discount,
        **window(),
    }


async def ids(partner: Partner, path: str, who: tuple[str, str], key: str) -> list[str]:
    page = await partner.call("GET", path, who, 200)
    return [row[key] for row in page["items"]]


async def test_each_party_sees_its_own_offers_newest_first_and_strangers_none(partner: Partner) -> None:
    provider, stranger, operator = partner.provider(), partner.provider(), person("operator")
    merchant, other_merchant = person("merchant"), person("merchant")
    partner.terms("p-mine", merchant[0], authorized="0.15")
    partner.terms("p-other", other_merchant[0])
    first = (await partner.call("POST", "/offers", provider, 201, json=offer_body("p-mine")))["offer_id"]
    deep = (await partner.call("POST", "/offers", provider, 201, json=offer_body("p-mine", "0.3")))[
        "offer_id"
    ]
    own = (await partner.call("POST", "/offers", merchant, 201, json=offer_body("p-mine")))["offer_id"]
    elsewhere = (await partner.call("POST", "/offers", other_merchant, 201, json=offer_body("p-other")))[
        "offer_id"
    ]

    assert await ids(partner, "/offers", provider, "offer_id") == [deep, first]
    assert await ids(partner, "/offers", merchant, "offer_id") == [own, deep, first]  # on its products
    assert await ids(partner, "/offers", other_merchant, "offer_id") == [elsewhere]
    assert await ids(partner, "/offers", stranger, "offer_id") == []
    assert await ids(partner, "/offers", person("merchant"), "offer_id") == []
    assert await ids(partner, "/offers", operator, "offer_id") == [elsewhere, own, deep, first]
    await partner.refused("GET", "/offers", person("buyer"), "sellers_and_operators_only")
    await partner.call("GET", "/offers", None, 401)
    # rows as the single GET returns them
    single = await partner.call("GET", f"/offers/{deep}", provider, 200)
    assert (await partner.call("GET", "/offers", provider, 200))["items"][0] == single


async def test_operators_filter_the_offers_waiting_in_manual_handling(partner: Partner) -> None:
    """Dossier §7.5: an offer beyond the authorized discount waits for an operator's special approval."""
    provider, operator = partner.provider(), person("operator")
    partner.terms("p1", rid("merchant"), authorized="0.10")
    partner.terms("p2", rid("merchant"), authorized="0.10")
    waiting = (await partner.call("POST", "/offers", provider, 201, json=offer_body("p1", "0.2")))["offer_id"]
    later = (await partner.call("POST", "/offers", provider, 201, json=offer_body("p2", "0.2")))["offer_id"]
    effective = (await partner.call("POST", "/offers", provider, 201, json=offer_body("p1", "0.05")))[
        "offer_id"
    ]
    approved = await partner.call("POST", f"/offers/{later}/approve", operator, 200, json={})
    assert approved["status"] == "effective"

    manual = await ids(partner, "/offers?status=manual_handling", operator, "offer_id")
    assert manual == [waiting]
    assert await ids(partner, "/offers?status=effective", operator, "offer_id") == [effective, later]
    assert await ids(partner, "/offers?status=effective&product_id=p2", operator, "offer_id") == [later]
    assert await ids(partner, "/offers?product_id=p1", provider, "offer_id") == [effective, waiting]
    assert await ids(partner, "/offers?status=rejected", operator, "offer_id") == []


async def test_offer_pages_neither_skip_nor_repeat_a_row(partner: Partner) -> None:
    provider = partner.provider()
    partner.terms("p1", rid("merchant"))
    made = [
        (await partner.call("POST", "/offers", provider, 201, json=offer_body("p1")))["offer_id"]
        for _ in range(5)
    ]
    seen: list[str] = []
    path = "/offers?limit=2"
    pages = 0
    while True:
        page = await partner.call("GET", path, provider, 200)
        pages += 1
        seen += [row["offer_id"] for row in page["items"]]
        if page["next_cursor"] is None:
            break
        path = f"/offers?limit=2&cursor={page['next_cursor']}"
    assert (seen, pages) == (made[::-1], 3)


async def test_each_party_sees_its_own_demands_filtered_and_paged(partner: Partner) -> None:
    provider, stranger, operator = partner.provider(), partner.provider(), person("operator")
    merchant, other_merchant = person("merchant"), person("merchant")
    partner.terms("p1", merchant[0])

    async def demand(who: tuple[str, str], to: tuple[str, str]) -> str:
        body = {"merchant_account_id": to[0], "customer_account_id": "c", "product_id": "p1"}
        return str((await partner.call("POST", "/demands", who, 201, json=body))["demand_id"])

    first = await demand(provider, merchant)
    second = await demand(provider, merchant)
    third = await demand(stranger, other_merchant)
    answered = await partner.call(
        "POST", f"/demands/{first}/offer", merchant, 200, json=offer_body("p1", customer="c")
    )
    assert answered["demand"]["status"] == "offered"

    assert await ids(partner, "/demands", provider, "demand_id") == [second, first]
    assert await ids(partner, "/demands", merchant, "demand_id") == [second, first]
    assert await ids(partner, "/demands", other_merchant, "demand_id") == [third]
    assert await ids(partner, "/demands", person("merchant"), "demand_id") == []
    assert await ids(partner, "/demands", operator, "demand_id") == [third, second, first]
    assert await ids(partner, "/demands?status=offered", provider, "demand_id") == [first]
    assert await ids(partner, "/demands?status=submitted", operator, "demand_id") == [third, second]
    await partner.refused("GET", "/demands", person("buyer"), "sellers_and_operators_only")
    single = await partner.call("GET", f"/demands/{first}", provider, 200)
    assert single in (await partner.call("GET", "/demands", provider, 200))["items"]

    page = await partner.call("GET", "/demands?limit=2", operator, 200)
    assert [row["demand_id"] for row in page["items"]] == [third, second]
    rest = await partner.call("GET", f"/demands?limit=2&cursor={page['next_cursor']}", operator, 200)
    assert ([row["demand_id"] for row in rest["items"]], rest["next_cursor"]) == ([first], None)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=new", "status"),
        ("status=", "status"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=", "cursor"),
        ("product_id=", "product_id"),
    ],
)
async def test_bad_offer_list_input_is_a_422_naming_the_field(
    partner: Partner, query: str, field: str
) -> None:
    await partner.invalid("GET", f"/offers?{query}", person("operator"), field)


@pytest.mark.parametrize(
    ("query", "field"),
    [("status=effective", "status"), ("limit=0", "limit"), ("limit=101", "limit"), ("cursor=x%7B", "cursor")],
)
async def test_bad_demand_list_input_is_a_422_naming_the_field(
    partner: Partner, query: str, field: str
) -> None:
    await partner.invalid("GET", f"/demands?{query}", partner.provider(), field)
