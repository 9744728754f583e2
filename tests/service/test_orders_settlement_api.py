"""Hardware returns and merchant settlement statements over the orders routes with test-signed tokens (dossier
§1.4, §4.3): who may call what, what each step tells whom (notice.requested in the outbox), and the clocks and
the monthly production driven by the workers' sources on a controlled clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.orders import api, api_catalogue, api_returns, api_statements, buyer_api
from services.orders.clocks import ReturnClocks, StatementRuns
from services.orders.settings import OrdersSettings
from shared.platform.audit import MemoryAuditLog
from shared.platform.fakes import FakeState
from shared.platform.http import install_security
from shared.platform.worker import Blocked
from shared.schemas import NoticeRequested, OrderStatusChanged, RefundDecided, RefundRequested
from shared.workdays import BEIJING
from tests import tokens
from tests.service.orders_support import in_memory
from tests.service.rig import FAST
from tests.service.test_orders_api import AUD, PUBLIC, Who, fields, listed, pay, place, refused, register


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def state() -> FakeState:
    return FakeState()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(BEIJING))


@pytest.fixture
def app(state: FakeState, clock: Clock) -> FastAPI:
    app = FastAPI()
    install_security(app, tokens.verifier(AUD), MemoryAuditLog("orders"))
    for router in (
        api.router,
        api_catalogue.router,
        buyer_api.router,
        api_returns.router,
        api_statements.router,
    ):
        app.include_router(router)
    app.state.orders = in_memory(state, OrdersSettings(**FAST, private_link_public_key=PUBLIC), clock)
    return app


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orders") as client:
        yield client


@pytest.fixture
async def people(http: httpx.AsyncClient) -> dict[str, Who]:
    return {role: await register(http, role) for role in ("buyer", "merchant", "operator")}


def notices(state: FakeState, kind: str) -> list[NoticeRequested]:
    return [e for e in state.outbox if isinstance(e, NoticeRequested) and e.payload.kind == kind]


SHIP_TO = {"name": "Li Lei", "phone": "+8613800001234", "address": "1 Road, Shenzhen"}


async def hardware_unsubscribe(http: httpx.AsyncClient, people: dict[str, Who]) -> tuple[str, str]:
    """A paid hardware order whose buyer asked to unsubscribe and return the goods: (order id, refund id)."""
    pid = await listed(
        http, people["merchant"], people["operator"], delivery_type="hardware", flow_template="standard"
    )
    order = await place(http, people["buyer"], pid, delivery_contact=SHIP_TO)
    paid = await pay(http, order)
    assert paid.status_code == 200, paid.text
    asked = await http.post(
        f"/purchased-services/{order['order_id']}/unsubscribe",
        headers=people["buyer"].headers,
        json={"amount": "800.00", "reason": "arrived broken", "return_goods": True},
    )
    assert asked.status_code == 200, asked.text
    return order["order_id"], asked.json()["refund"]["refund_id"]


async def test_returned_goods_are_shipped_by_the_buyer_and_confirmed_by_the_merchant(
    http: httpx.AsyncClient, people: dict[str, Who], state: FakeState
) -> None:
    buyer, merchant = people["buyer"], people["merchant"]
    order_id, refund_id = await hardware_unsubscribe(http, people)
    # refund.requested tells the merchant (notification's catalogue)
    [asked] = [e for e in state.outbox if isinstance(e, RefundRequested)]
    assert asked.payload.parties.merchant_account_id == merchant.account_id
    assert (str(asked.payload.amount), asked.payload.reason) == ("800.00", "arrived broken")
    ship = f"/purchased-services/{order_id}/unsubscribe/{refund_id}/shipment"
    accept = f"/orders/{order_id}/refunds/{refund_id}/return"
    parcel = {"carrier": "SF", "tracking_no": "SF1234"}

    refused(await http.post(ship, headers=merchant.headers, json=parcel), "buyers_only")
    assert "tracking_no" in fields(await http.post(ship, headers=buyer.headers, json={"carrier": "SF"}))
    early = await http.post(accept, headers=merchant.headers, json={"accept": True})
    assert early.status_code == 409, early.text  # nothing shipped yet
    shipped = await http.post(ship, headers=buyer.headers, json=parcel)
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["refund"]["goods_return"]["state"] == "pending_acceptance"
    refused(await http.post(accept, headers=buyer.headers, json={"accept": True}), "merchants_only")
    outsider = await register(http, "merchant")
    refused(
        await http.post(accept, headers=outsider.headers, json={"accept": True}), "merchant_decides_refund"
    )
    assert "note" in fields(await http.post(accept, headers=merchant.headers, json={"accept": False}))

    confirmed = await http.post(accept, headers=merchant.headers, json={"accept": True, "note": "intact"})

    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert (body["status"], body["refund"]["state"], body["refund"]["goods_return"]["state"]) == (
        "refunded",
        "approved",
        "accepted",
    )
    assert body["refund"]["agreed_record"] == {"kind": "returned_goods", "ref": "SF1234"}
    [decided] = [e for e in state.outbox if isinstance(e, RefundDecided)]
    assert (decided.payload.approved, str(decided.payload.amount)) == (True, "800.00")
    assert decided.payload.parties.buyer_account_id == buyer.account_id  # refund.decided tells the buyer
    again = await http.post(accept, headers=merchant.headers, json={"accept": True})
    assert again.status_code == 409, again.text


async def test_the_clocks_tell_the_buyer_after_seven_working_days_and_accept_after_fifteen_days(
    http: httpx.AsyncClient, people: dict[str, Who], state: FakeState, clock: Clock, app: FastAPI
) -> None:
    order_id, refund_id = await hardware_unsubscribe(http, people)
    buyer = people["buyer"]
    shipped = await http.post(
        f"/purchased-services/{order_id}/unsubscribe/{refund_id}/shipment",
        headers=buyer.headers,
        json={"carrier": "SF", "tracking_no": "SF9"},
    )
    refund = shipped.json()["refund"]
    review_by = datetime.fromisoformat(refund["review_by"])
    accept_by = datetime.fromisoformat(refund["goods_return"]["accept_by"])
    source = ReturnClocks(app.state.orders)

    assert await source.due(review_by - timedelta(seconds=1), 10, Blocked()) == []
    clock.at = max(review_by, accept_by - timedelta(hours=1))
    for _ in range(2):  # a worker that runs twice tells the buyer once
        for item in await source.due(clock.at, 10, Blocked()):
            await source.process(item)
    [overdue] = notices(state, "return_review_overdue")
    assert [r.account_id for r in overdue.payload.recipients] == [buyer.account_id]
    read = (await http.get(f"/orders/{order_id}", headers=buyer.headers)).json()
    assert (read["status"], read["refund"]["buyer_may_contact_merchant"]) == ("processing", True)

    clock.at = accept_by
    assert await source.due(clock.at, 10, Blocked()) == [order_id]
    await source.process(order_id)
    await source.process(order_id)  # a rerun of the item changes nothing

    read = (await http.get(f"/orders/{order_id}", headers=buyer.headers)).json()
    assert (read["status"], read["refund"]["state"]) == ("refunded", "approved")
    assert read["refund"]["goods_return"]["decided_by_system"] is True
    [decided] = [e for e in state.outbox if isinstance(e, RefundDecided)]
    assert decided.payload.decided_by_role == "system"
    assert await source.due(clock.at + timedelta(days=1), 10, Blocked()) == []


async def test_an_agreement_needs_the_agreed_record_and_a_rejection_its_reason(
    http: httpx.AsyncClient, people: dict[str, Who], state: FakeState
) -> None:
    pid = await listed(http, people["merchant"], people["operator"])
    order = await place(http, people["buyer"], pid)
    assert (await pay(http, order)).status_code == 200
    asked = await http.post(
        f"/purchased-services/{order['order_id']}/unsubscribe",
        headers=people["buyer"].headers,
        json={"amount": "0.00", "reason": "x"},
    )
    assert "amount" in fields(asked)
    too_much = await http.post(
        f"/purchased-services/{order['order_id']}/unsubscribe",
        headers=people["buyer"].headers,
        json={"amount": "5000.00", "reason": "x"},
    )
    assert "amount" in fields(too_much)
    asked = await http.post(
        f"/purchased-services/{order['order_id']}/unsubscribe",
        headers=people["buyer"].headers,
        json={"amount": "300.00", "reason": "plans changed"},
    )
    url = f"/orders/{order['order_id']}/refunds/{asked.json()['refund']['refund_id']}/decision"
    merchant = people["merchant"].headers

    assert "agreed_record" in fields(await http.post(url, headers=merchant, json={"approve": True}))
    assert "opinion" in fields(
        await http.post(url, headers=merchant, json={"approve": False, "opinion": " "})
    )
    bad = {"approve": True, "agreed_record": {"kind": "email", "ref": "x"}}
    assert "kind" in fields(await http.post(url, headers=merchant, json=bad))
    record = {"kind": "evidence", "ref": "EV-77"}
    agreed = await http.post(url, headers=merchant, json={"approve": True, "agreed_record": record})

    assert agreed.status_code == 200, agreed.text
    assert (agreed.json()["status"], agreed.json()["refund"]["agreed_record"]) == ("refunded", record)
    assert [e.payload.approved for e in state.outbox if isinstance(e, RefundDecided)] == [True]


async def statements_of(http: httpx.AsyncClient, who: Who, **params: Any) -> list[dict[str, Any]]:
    resp = await http.get("/statements", headers=who.headers, params=params)
    assert resp.status_code == 200, resp.text
    return list(resp.json())


async def test_statements_are_made_once_per_merchant_and_moved_review_sent_paid_by_operators(
    http: httpx.AsyncClient, people: dict[str, Who], state: FakeState, clock: Clock, app: FastAPI
) -> None:
    buyer, merchant, operator = people["buyer"], people["merchant"], people["operator"]
    other = await register(http, "merchant")
    clock.at = datetime(2026, 9, 15, 12, tzinfo=BEIJING)
    for seller, price in ((merchant, "100.00"), (merchant, "20.50"), (other, "7.00")):
        pid = await listed(
            http,
            seller,
            operator,
            delivery_type="image",
            flow_template=None,
            specifications=[{"spec_id": "once", "name": "Once", "billing_mode": "one_time", "price": price}],
        )
        assert (await pay(http, await place(http, buyer, pid))).status_code == 200
    runs = StatementRuns(app.state.orders)
    # September's statements are due on 8 October 10:00 (the 7th is in the National Day holiday)
    assert await runs.due(datetime(2026, 10, 8, 9, 59, tzinfo=BEIJING), 5, Blocked()) == [
        "statements:2026-08"
    ]
    clock.at = datetime(2026, 10, 8, 10, tzinfo=BEIJING)
    [item] = await runs.due(clock.at, 5, Blocked())
    assert item == "statements:2026-09"
    await runs.process(item)
    await runs.process(item)  # produced twice: still one statement per merchant
    assert await runs.due(clock.at, 5, Blocked()) == []

    [mine] = await statements_of(http, merchant)
    assert (mine["period"], mine["state"], mine["totals"]) == ("2026-09", "review", {"CNY": "120.50"})
    assert len(mine["lines"]) == 2
    assert [s["merchant_account_id"] for s in await statements_of(http, other)] == [other.account_id]
    assert len(await statements_of(http, operator, period="2026-09")) == 2
    refused(await http.get("/statements", headers=buyer.headers), "operators_and_merchants_only")
    sid = mine["statement_id"]
    refused(await http.get(f"/statements/{sid}", headers=other.headers), "parties_and_operators_only")
    assert (await http.get("/statements/ST-202609-nobody", headers=operator.headers)).status_code == 404
    assert (await http.get(f"/statements/{sid}", headers=operator.headers)).json() == mine
    refused(await http.post(f"/statements/{sid}/send", headers=merchant.headers), "operators_only")
    early = await http.post(f"/statements/{sid}/paid", headers=operator.headers)
    assert early.status_code == 409, early.text

    sent = await http.post(f"/statements/{sid}/send", headers=operator.headers)
    paid = await http.post(f"/statements/{sid}/paid", headers=operator.headers)

    assert (sent.json()["state"], paid.json()["state"]) == ("sent", "paid")
    assert [s["state"] for s in await statements_of(http, merchant, state="paid")] == ["paid"]
    told = [n for n in notices(state, "statement_status") if n.payload.subject_id == sid]
    assert [n.payload.notice_id for n in told] == [f"statement:{sid}:{s}" for s in ("review", "sent", "paid")]
    assert {r.account_id for n in told for r in n.payload.recipients} == {merchant.account_id}
    assert len(notices(state, "statement_status")) == 4  # the other merchant's review notice


async def test_an_unsubscribe_in_a_renewal_period_carries_the_negative_amount_of_the_renewal(
    http: httpx.AsyncClient, people: dict[str, Who], state: FakeState
) -> None:
    buyer = people["buyer"]
    pid = await listed(
        http, people["merchant"], people["operator"], delivery_type="saas_instant", flow_template=None
    )
    first = await place(http, buyer, pid)
    assert (await pay(http, first)).json()["status"] == "completed"
    renewed = await http.post(
        f"/purchased-services/{first['order_id']}/renew", headers=buyer.headers, json={}
    )
    assert renewed.status_code == 201, renewed.text
    renewal = renewed.json()
    assert (await pay(http, renewal)).json()["status"] == "completed"

    asked = await http.post(
        f"/purchased-services/{renewal['order_id']}/unsubscribe",
        headers=buyer.headers,
        json={"reason": "renewed by mistake"},
    )

    assert asked.status_code == 200, asked.text
    unsub_id = asked.json()["unsubscribe_order_id"]
    unsub = (await http.get(f"/orders/{unsub_id}", headers=buyer.headers)).json()
    assert (unsub["order_type"], unsub["original_order_id"], unsub["amount"], unsub["status"]) == (
        "unsubscribe",
        renewal["order_id"],
        "-1200.00",
        "completed",
    )
    published = [
        (e.payload.order_type, str(e.payload.amount))
        for e in state.outbox
        if isinstance(e, OrderStatusChanged) and e.order_id == unsub_id
    ]
    assert published == [("unsubscribe", "-1200.00")] * 2  # opened, then completed with the refund
    [decided] = [e for e in state.outbox if isinstance(e, RefundDecided)]
    assert (decided.payload.order_id, str(decided.payload.amount)) == (renewal["order_id"], "1200.00")
