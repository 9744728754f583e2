"""The orders routes of issue 14 over a bare FastAPI app with test-signed tokens and the in-memory unit of work:
milestone offers (dossier §4.2) and their order reaching supervision with its milestones, the order lists and
the operators' review queue (§9.2, §2.1), the buyer's reminder (催促) and invoice request, and the notices the
orders flows write with their facts (§6.3): renewal, listing review result, invoice request, expiry and trial
reminders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.orders import api, api_catalogue, api_lists, buyer_api, offer_api
from services.orders.context import OrdersContext
from services.orders.settings import OrdersSettings
from services.orders.sweeper import ExpiryReminderSource
from services.supervision.service_order import ServiceOrder
from shared.platform.fakes import FakeState
from shared.platform.http import install_security
from shared.platform.worker import Blocked
from shared.schemas import NoticeKind, NoticeRequested, OrderPaid
from shared.workdays import BEIJING
from tests import tokens
from tests.factories import rid
from tests.service.orders_support import in_memory, product_cmd
from tests.service.rig import FAST, Rig

AUD = "koo-orders"
PHONE = "+8613800001234"
HALVES = [
    {"milestone_id": "design", "title": "Design", "proportion": "0.3"},
    {"milestone_id": "build", "title": "Build", "proportion": "0.7"},
]


@dataclass(frozen=True)
class Who:
    account_id: str
    role: str

    @property
    def headers(self) -> dict[str, str]:
        return tokens.bearer(self.account_id, self.role, audience=AUD)


PAYMENT = Who("service-account-koo-payment", "payment-system")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 5, 2, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state() -> FakeState:
    return FakeState()


@pytest.fixture
def ctx(state: FakeState, clock: Clock) -> OrdersContext:
    return in_memory(state, OrdersSettings(**FAST), clock)


@pytest.fixture
async def http(ctx: OrdersContext) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_security(app, tokens.verifier(AUD))
    for router in (api.router, api_lists.router, api_catalogue.router, buyer_api.router, offer_api.router):
        app.include_router(router)
    app.state.orders = ctx
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orders") as client:
        yield client


async def register(http: httpx.AsyncClient, role: str) -> Who:
    who = Who(rid(role), role)
    resp = await http.post("/accounts", headers=who.headers, json={"bound_phone": PHONE})
    assert resp.status_code == 201, resp.text
    return who


@pytest.fixture
async def people(http: httpx.AsyncClient) -> dict[str, Who]:
    return {role: await register(http, role) for role in ("buyer", "merchant", "operator")}


async def listed(http: httpx.AsyncClient, people: dict[str, Who], **over: Any) -> str:
    body = product_cmd(**over).model_dump(mode="json", exclude_none=True)
    created = await http.post("/products", headers=people["merchant"].headers, json=body)
    assert created.status_code == 201, created.text
    pid = str(created.json()["product_id"])
    assert (
        await http.post(f"/products/{pid}/publish", headers=people["merchant"].headers)
    ).status_code == 200
    review = await http.post(
        f"/products/{pid}/review", headers=people["operator"].headers, json={"approve": True}
    )
    assert review.json()["status"] == "listed", review.text
    return pid


def one_time(price: str = "100.00") -> dict[str, Any]:
    return {
        "specifications": [{"spec_id": "once", "name": "Once", "billing_mode": "one_time", "price": price}]
    }


async def place(http: httpx.AsyncClient, buyer: Who, pid: str) -> dict[str, Any]:
    resp = await http.post("/orders", headers=buyer.headers, json={"product_id": pid})
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def pay(http: httpx.AsyncClient, order: dict[str, Any]) -> dict[str, Any]:
    body = {"payment_id": rid("pay"), "amount": order["amount"]}
    resp = await http.post(f"/orders/{order['order_id']}/pay", headers=PAYMENT.headers, json=body)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def notices(state: FakeState, kind: NoticeKind) -> list[NoticeRequested]:
    return [e for e in state.outbox if isinstance(e, NoticeRequested) and e.payload.kind is kind]


def recipients(notice: NoticeRequested) -> set[tuple[str, str | None]]:
    return {(r.role.value, r.account_id) for r in notice.payload.recipients}


# --- milestone offers (dossier §4.2) ----------------------------------------------------------------------


async def offer(
    http: httpx.AsyncClient, merchant: Who, buyer: Who, pid: str, clock: Clock, **over: Any
) -> Any:
    body = {
        "name": rid("offer"),
        "buyer_account_id": buyer.account_id,
        "product_id": pid,
        "quantity": 3,
        "amount": "2400.00",
        "milestones": HALVES,
        "valid_until": (clock.now + timedelta(days=7)).isoformat(),
        **over,
    }
    return await http.post("/milestone-offers", headers=merchant.headers, json=body)


async def test_the_offers_customer_orders_it_once_with_its_milestones(
    http: httpx.AsyncClient, people: dict[str, Who], state: FakeState, clock: Clock
) -> None:
    buyer, merchant = people["buyer"], people["merchant"]
    pid = await listed(http, people, **one_time())
    made = await offer(http, merchant, buyer, pid, clock)
    assert made.status_code == 201, made.text
    offer_id = made.json()["offer_id"]
    assert made.json()["status"] == "open"
    assert made.json()["spec_id"] == "once"

    mine = await http.get("/milestone-offers", headers=buyer.headers)
    assert [o["offer_id"] for o in mine.json()] == [offer_id]
    theirs = await http.get("/milestone-offers", headers=merchant.headers)
    assert [o["offer_id"] for o in theirs.json()] == [offer_id]

    stranger = await register(http, "buyer")
    assert (await http.get(f"/milestone-offers/{offer_id}", headers=stranger.headers)).status_code == 403
    assert (
        await http.post(f"/milestone-offers/{offer_id}/orders", headers=stranger.headers)
    ).status_code == 403
    assert (await http.get("/milestone-offers", headers=stranger.headers)).json() == []

    ordered = await http.post(f"/milestone-offers/{offer_id}/orders", headers=buyer.headers)
    assert ordered.status_code == 201, ordered.text
    order = ordered.json()
    assert (order["offer_id"], order["amount"], order["quantity"]) == (offer_id, "2400.00", 3)
    assert [(m["milestone_id"], m["proportion"]) for m in order["milestones"]] == [
        ("design", "0.3"),
        ("build", "0.7"),
    ]
    got = await http.get(f"/milestone-offers/{offer_id}", headers=merchant.headers)
    assert (got.json()["status"], got.json()["order_id"]) == ("used", order["order_id"])
    again = await http.post(f"/milestone-offers/{offer_id}/orders", headers=buyer.headers)
    assert again.status_code == 409, again.text
    assert (
        await http.post(f"/milestone-offers/{offer_id}/withdraw", headers=merchant.headers)
    ).status_code == 409


async def test_the_order_of_an_offer_opens_a_service_order_with_its_milestones(
    http: httpx.AsyncClient, people: dict[str, Who], state: FakeState, clock: Clock, supervision_rig: Rig
) -> None:
    pid = await listed(http, people, **one_time())
    offer_id = (await offer(http, people["merchant"], people["buyer"], pid, clock)).json()["offer_id"]
    order = (await http.post(f"/milestone-offers/{offer_id}/orders", headers=people["buyer"].headers)).json()
    await pay(http, order)
    [paid] = [e for e in state.outbox if isinstance(e, OrderPaid)]
    assert paid.payload.offer_id == offer_id
    async with supervision_rig.running() as rig:
        await rig.publish(paid)  # what the outbox relay publishes, to supervision's own subscriber
    assert rig.dead == []
    [row] = rig.state.tables["service_orders"].values()
    so = ServiceOrder.model_validate(row)
    assert so.order_id == order["order_id"]
    assert [(m.milestone_id, str(m.proportion)) for m in so.milestones] == [
        ("design", "0.3"),
        ("build", "0.7"),
    ]


async def test_an_offer_is_refused_what_section_4_2_excludes(
    http: httpx.AsyncClient, people: dict[str, Who], clock: Clock
) -> None:
    buyer, merchant = people["buyer"], people["merchant"]
    yearly = await listed(http, people)  # yearly billing
    resp = await offer(http, merchant, buyer, yearly, clock)
    assert resp.status_code == 422
    assert resp.json()["detail"]["field"] == "milestones"
    pid = await listed(http, people, **one_time())
    uneven = [{**HALVES[0], "proportion": "0.5"}, HALVES[1]]
    assert (await offer(http, merchant, buyer, pid, clock, milestones=uneven)).status_code == 422
    to_merchant = await offer(http, merchant, merchant, pid, clock)
    assert to_merchant.json()["detail"]["field"] == "buyer_account_id"
    past = await offer(http, merchant, buyer, pid, clock, valid_until=clock.now.isoformat())
    assert past.json()["detail"]["field"] == "valid_until"
    assert (await offer(http, merchant, buyer, pid, clock, name="Same")).status_code == 201
    dup = await offer(http, merchant, buyer, pid, clock, name="Same")
    assert dup.status_code == 409
    assert dup.json()["detail"]["field"] == "name"
    other_merchant = await register(http, "merchant")
    assert (await offer(http, other_merchant, buyer, pid, clock)).status_code == 403  # not its product


async def test_an_expired_or_withdrawn_offer_is_not_ordered(
    http: httpx.AsyncClient, people: dict[str, Who], clock: Clock
) -> None:
    buyer, merchant = people["buyer"], people["merchant"]
    pid = await listed(http, people, **one_time())
    expiring = (await offer(http, merchant, buyer, pid, clock)).json()["offer_id"]
    withdrawn = (await offer(http, merchant, buyer, pid, clock)).json()["offer_id"]
    done = await http.post(f"/milestone-offers/{withdrawn}/withdraw", headers=merchant.headers)
    assert done.json()["status"] == "withdrawn"
    assert (
        await http.post(f"/milestone-offers/{withdrawn}/orders", headers=buyer.headers)
    ).status_code == 409
    clock.now += timedelta(days=7)
    expired = await http.post(f"/milestone-offers/{expiring}/orders", headers=buyer.headers)
    assert expired.status_code == 409
    assert expired.json()["detail"]["field"] == "valid_until"


# --- the order lists (dossier §9.2, §2.1) -----------------------------------------------------------------


async def test_each_party_lists_its_own_orders_newest_first_a_page_at_a_time(
    http: httpx.AsyncClient, people: dict[str, Who], clock: Clock
) -> None:
    buyer, merchant, operator = people["buyer"], people["merchant"], people["operator"]
    pid = await listed(http, people, **one_time())
    placed = []
    for _ in range(5):
        clock.now += timedelta(minutes=1)
        placed.append(await place(http, buyer, pid))
    other_buyer = await register(http, "buyer")
    theirs = await place(http, other_buyer, pid)

    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await http.get("/orders", headers=buyer.headers, params=params)).json()
        seen += [row["order_id"] for row in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [o["order_id"] for o in reversed(placed)]  # newest first, none skipped or repeated
    row = (await http.get("/orders", headers=buyer.headers, params={"limit": 1})).json()["items"][0]
    assert {"order_id", "product_name", "amount", "status", "created_at"} <= row.keys()
    assert row["product_name"] == "Cloud migration"

    sold = (await http.get("/orders", headers=merchant.headers)).json()["items"]
    assert {r["order_id"] for r in sold} == {o["order_id"] for o in [*placed, theirs]}
    everyone = (await http.get("/orders", headers=operator.headers, params={"limit": 100})).json()["items"]
    assert {o["order_id"] for o in [*placed, theirs]} <= {r["order_id"] for r in everyone}
    stranger = await register(http, "merchant")
    assert (await http.get("/orders", headers=stranger.headers)).json()["items"] == []
    assert (await http.get("/orders")).status_code == 401


async def test_the_order_list_filters(http: httpx.AsyncClient, people: dict[str, Who], clock: Clock) -> None:
    buyer = people["buyer"]
    a = await listed(http, people, **one_time())
    b = await listed(http, people, **one_time("50.00"))
    first = await place(http, buyer, a)
    clock.now += timedelta(hours=1)
    second = await pay(http, await place(http, buyer, b))
    clock.now += timedelta(hours=1)
    third = await place(http, buyer, a)

    async def ids(**params: Any) -> list[str]:
        resp = await http.get("/orders", headers=buyer.headers, params=params)
        assert resp.status_code == 200, resp.text
        return [r["order_id"] for r in resp.json()["items"]]

    assert await ids(product_id=a) == [third["order_id"], first["order_id"]]
    assert await ids(status="processing") == [second["order_id"]]
    assert await ids(order_id=first["order_id"]) == [first["order_id"]]
    assert await ids(order_type="renewal") == []
    window = {"placed_from": second["created_at"], "placed_to": third["created_at"]}
    assert await ids(**window) == [second["order_id"]]  # from inclusive, to exclusive
    bad = await http.get("/orders", headers=buyer.headers, params={"cursor": "nonsense"})
    assert bad.status_code == 422
    assert bad.json()["detail"]["field"] == "cursor"
    assert (await http.get("/orders", headers=buyer.headers, params={"status": "lost"})).status_code == 422


async def test_operators_page_through_the_products_awaiting_review(
    http: httpx.AsyncClient, people: dict[str, Who], clock: Clock
) -> None:
    merchant, operator = people["merchant"], people["operator"]
    waiting = []
    for _ in range(3):
        clock.now += timedelta(minutes=1)
        body = product_cmd(**one_time()).model_dump(mode="json", exclude_none=True)
        pid = (await http.post("/products", headers=merchant.headers, json=body)).json()["product_id"]
        await http.post(f"/products/{pid}/publish", headers=merchant.headers)
        waiting.append(pid)
    await http.post(f"/products/{waiting[1]}/review", headers=operator.headers, json={"approve": True})
    first = (
        await http.get("/operator/product-reviews", headers=operator.headers, params={"limit": 1})
    ).json()
    assert [r["product_id"] for r in first["items"]] == [waiting[0]]  # the longest waiting first
    rest = await http.get(
        "/operator/product-reviews", headers=operator.headers, params={"cursor": first["next_cursor"]}
    )
    assert [r["product_id"] for r in rest.json()["items"]] == [waiting[2]]
    assert rest.json()["next_cursor"] is None
    other = await http.get(
        "/operator/product-reviews", headers=operator.headers, params={"merchant_account_id": "nobody"}
    )
    assert other.json()["items"] == []
    assert (await http.get("/operator/product-reviews", headers=merchant.headers)).status_code == 403


async def test_products_published_before_their_time_was_recorded_are_reviewed_first(
    http: httpx.AsyncClient, people: dict[str, Who], state: FakeState, clock: Clock
) -> None:
    merchant, operator = people["merchant"], people["operator"]
    waiting = []
    for _ in range(3):
        body = product_cmd(**one_time()).model_dump(mode="json", exclude_none=True)
        pid = (await http.post("/products", headers=merchant.headers, json=body)).json()["product_id"]
        await http.post(f"/products/{pid}/publish", headers=merchant.headers)
        waiting.append(pid)
    for pid in waiting[:2]:  # as a product published before submitted_at existed is stored
        state.tables["products"][pid]["submitted_at"] = None
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await http.get("/operator/product-reviews", headers=operator.headers, params=params)).json()
        seen += [r["product_id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [*sorted(waiting[:2]), waiting[2]]


# --- the buyer's reminder (催促) and invoice request ------------------------------------------------------


async def test_a_buyer_reminds_the_merchant_once_a_day_and_the_merchant_is_told(
    http: httpx.AsyncClient, people: dict[str, Who], state: FakeState, clock: Clock
) -> None:
    buyer, merchant = people["buyer"], people["merchant"]
    order = await pay(http, await place(http, buyer, await listed(http, people, **one_time())))
    oid = order["order_id"]
    unpaid = await place(http, buyer, await listed(http, people, **one_time()))
    assert (
        await http.post(f"/orders/{unpaid['order_id']}/reminders", headers=buyer.headers)
    ).status_code == 409

    resp = await http.post(f"/orders/{oid}/reminders", headers=buyer.headers, json={"message": "any news?"})
    assert resp.status_code == 200, resp.text
    [notice] = notices(state, NoticeKind.ORDER_REMINDER)
    assert recipients(notice) == {("merchant", merchant.account_id)}
    assert notice.order_id == oid
    assert notice.payload.params["message"] == "any news?"

    clock.now += timedelta(hours=20)
    again = await http.post(f"/orders/{oid}/reminders", headers=buyer.headers)
    assert again.status_code == 429, again.text
    assert again.headers["Retry-After"] == str(4 * 3600)
    assert again.json()["detail"]["rule"] == "one_reminder_per_order_per_day"
    assert len(notices(state, NoticeKind.ORDER_REMINDER)) == 1
    stranger = await register(http, "buyer")
    assert (await http.post(f"/orders/{oid}/reminders", headers=stranger.headers)).status_code == 403
    assert (await http.post(f"/orders/{oid}/reminders", headers=merchant.headers)).status_code == 403
    clock.now += timedelta(hours=4)
    assert (await http.post(f"/orders/{oid}/reminders", headers=buyer.headers)).status_code == 200
    assert len(notices(state, NoticeKind.ORDER_REMINDER)) == 2


async def test_the_buyer_of_a_paid_order_requests_an_invoice_once(
    http: httpx.AsyncClient, people: dict[str, Who], state: FakeState
) -> None:
    buyer, merchant = people["buyer"], people["merchant"]
    pid = await listed(http, people, **one_time())
    unpaid = await place(http, buyer, pid)
    oid = (await pay(http, await place(http, buyer, pid)))["order_id"]
    body = {"title": "Acme Ltd", "tax_id": "91110000MA01ABCD2X"}
    assert (
        await http.post(f"/orders/{unpaid['order_id']}/invoice-requests", headers=buyer.headers, json=body)
    ).status_code == 409
    stranger = await register(http, "buyer")
    assert (
        await http.post(f"/orders/{oid}/invoice-requests", headers=stranger.headers, json=body)
    ).status_code == 403
    bad = await http.post(
        f"/orders/{oid}/invoice-requests", headers=buyer.headers, json={**body, "tax_id": "x"}
    )
    assert bad.status_code == 422
    made = await http.post(f"/orders/{oid}/invoice-requests", headers=buyer.headers, json=body)
    assert made.status_code == 201, made.text
    assert made.json()["title"] == "Acme Ltd"
    assert state.tables["invoice_requests"]
    [notice] = notices(state, NoticeKind.INVOICE_REQUESTED)
    assert recipients(notice) == {("merchant", merchant.account_id)}
    assert notice.payload.params["invoice_title"] == "Acme Ltd"
    assert (
        await http.post(f"/orders/{oid}/invoice-requests", headers=buyer.headers, json=body)
    ).status_code == 409


# --- notices written with the facts (dossier §6.3) --------------------------------------------------------


async def test_the_listing_review_result_is_told_to_the_merchant(
    http: httpx.AsyncClient, people: dict[str, Who], state: FakeState
) -> None:
    merchant, operator = people["merchant"], people["operator"]
    body = product_cmd(**one_time()).model_dump(mode="json", exclude_none=True)
    pid = (await http.post("/products", headers=merchant.headers, json=body)).json()["product_id"]
    await http.post(f"/products/{pid}/publish", headers=merchant.headers)
    reject = {"approve": False, "note": "screenshots missing"}
    assert (
        await http.post(f"/products/{pid}/review", headers=operator.headers, json=reject)
    ).status_code == 200
    await http.post(f"/products/{pid}/publish", headers=merchant.headers)
    await http.post(f"/products/{pid}/review", headers=operator.headers, json={"approve": True})
    told = notices(state, NoticeKind.LISTING_REVIEW_RESULT)
    assert [(n.payload.params["result"], n.payload.params["opinion"]) for n in told] == [
        ("rejected", "screenshots missing"),
        ("approved", ""),
    ]
    assert all(recipients(n) == {("merchant", merchant.account_id)} for n in told)
    assert len({n.payload.notice_id for n in told}) == 2  # two reviews, two facts


MONTHLY = {
    "delivery_type": "saas_instant",
    "flow_template": None,
    "specifications": [
        {
            "spec_id": "m",
            "name": "Monthly",
            "billing_mode": "periodic_monthly",
            "price": "30.00",
            "period_months": 1,
        }
    ],
}


async def test_a_paid_renewal_tells_merchant_and_buyer_and_ends_the_originals_reminders(
    http: httpx.AsyncClient, people: dict[str, Who], state: FakeState, ctx: OrdersContext
) -> None:
    buyer, merchant = people["buyer"], people["merchant"]
    original = await pay(http, await place(http, buyer, await listed(http, people, **MONTHLY)))
    assert original["status"] == "completed"
    assert original["next_reminder_at"] is not None
    renewal = await http.post(f"/purchased-services/{original['order_id']}/renew", headers=buyer.headers)
    assert not notices(state, NoticeKind.RENEWAL)  # placed, not paid: nothing to tell yet
    await pay(http, renewal.json())
    [notice] = notices(state, NoticeKind.RENEWAL)
    assert recipients(notice) == {("merchant", merchant.account_id), ("buyer", buyer.account_id)}
    assert notice.payload.params["original_order_id"] == original["order_id"]
    assert notice.payload.notice_id == f"renewal:{renewal.json()['order_id']}:paid"
    before = await ctx.queries.orders.get(original["order_id"])
    assert before is not None
    assert before.renewed_by == renewal.json()["order_id"]
    assert before.next_reminder_at is None


async def sweep(ctx: OrdersContext, clock: Clock) -> list[str]:
    """One pass of the expiry reminder sweeper at the clock's time."""
    source = ExpiryReminderSource(ctx)
    due = await source.due(clock.now, 100, Blocked())
    for item in due:
        await source.process(item)
    return due


async def test_expiry_reminders_go_at_ten_beijing_15_7_3_and_1_days_before_once_each(
    http: httpx.AsyncClient, people: dict[str, Who], state: FakeState, clock: Clock, ctx: OrdersContext
) -> None:
    buyer = people["buyer"]
    clock.now = datetime(2026, 11, 30, 12, 0, tzinfo=BEIJING)
    order = await pay(http, await place(http, buyer, await listed(http, people, **MONTHLY)))
    ends = datetime.fromisoformat(order["validity_ends_at"])
    assert ends.astimezone(BEIJING) == datetime(2026, 12, 30, 12, 0, tzinfo=BEIJING)
    assert await sweep(ctx, clock) == []

    sent = []
    for day in (15, 23, 27, 29):  # Dec 15 = 15 days before Dec 30, then 7, 3 and 1 days before
        clock.now = datetime(2026, 12, day, 9, 59, tzinfo=BEIJING)
        assert await sweep(ctx, clock) == []  # not before 10:00 Beijing time
        clock.now = datetime(2026, 12, day, 10, 0, tzinfo=BEIJING)
        assert await sweep(ctx, clock) == [order["order_id"]]
        assert await sweep(ctx, clock) == []  # once each
        sent = notices(state, NoticeKind.EXPIRY_REMINDER)
    assert [n.payload.notice_id for n in sent] == [f"expiry:{order['order_id']}:{d}" for d in (15, 7, 3, 1)]
    assert [n.payload.params["days_left"] for n in sent] == ["15", "7", "3", "1"]
    assert all(recipients(n) == {("buyer", buyer.account_id)} for n in sent)
    clock.now = ends + timedelta(days=1)
    assert await sweep(ctx, clock) == []


async def test_a_trial_gets_trial_to_commercial_reminders(
    http: httpx.AsyncClient, people: dict[str, Who], state: FakeState, clock: Clock, ctx: OrdersContext
) -> None:
    trial = {
        **MONTHLY,
        "specifications": [
            {"spec_id": "t", "name": "Trial", "billing_mode": "one_time", "price": "1.00", "trial_days": 14}
        ],
    }
    clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=BEIJING)
    order = await pay(http, await place(http, people["buyer"], await listed(http, people, **trial)))
    assert datetime.fromisoformat(order["validity_ends_at"]) == clock.now + timedelta(days=14)
    clock.now = datetime(
        2026, 12, 8, 10, 0, tzinfo=BEIJING
    )  # 7 days before Dec 15 (15 days: before the trial)
    assert await sweep(ctx, clock) == [order["order_id"]]
    [notice] = notices(state, NoticeKind.TRIAL_CONVERSION_REMINDER)
    assert notice.payload.notice_id == f"expiry:{order['order_id']}:7"
    assert not notices(state, NoticeKind.EXPIRY_REMINDER)
