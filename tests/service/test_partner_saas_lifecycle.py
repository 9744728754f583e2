"""The SaaS lifecycle on fakes (dossier §8.2): a merchant that answers by activity, the call runner, the
event handlers and the dial-test source on the in-memory store; what is asserted is what partner saved and
put in its outbox (merchant_call.failed, product.frozen, notice.requested)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.partner import signing
from services.partner.calls import MerchantCall, MerchantEndpoint, RetryTimes
from services.partner.deps import Deps
from services.partner.dial_tests import DialTests
from services.partner.merchant import CallRunner
from services.partner.saas import FREEZE_DAYS
from services.partner.services import PartnerService
from services.partner.settings import PartnerSettings
from services.partner.store import PartnerUnitOfWork, fake_uow
from shared.platform.fakes import FakeState
from shared.platform.mongo import UnitOfWorkFactory
from shared.schemas import (
    BillingMode,
    DeliveryType,
    Event,
    MerchantCallFailed,
    NoticeKind,
    NoticeRequested,
    OrderPaid,
    OrderStatus,
    OrderStatusChanged,
    OrderStatusChangedPayload,
    ProductFrozen,
)
from tests.factories import order_paid, parties, rid
from tests.service.rig import FAST
from tests.service.test_partner_events import refund_decided

KEY = "merchant-ak-0001"
NOW = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)  # 12:00 in Beijing
TIMES = RetryTimes(
    long_interval=3600,
    long_window=3 * 3600,
    short_interval=600,
    short_window=3600,
    poll_interval=60,
    poll_window=600,
)
Answer = Callable[[dict[str, Any]], tuple[int, dict[str, Any] | None]]


class ScriptedMerchant:
    """Verifies each request's signature, then answers what `answer(body)` says, signed (None: unsigned)."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.seen: list[dict[str, Any]] = []

    async def __call__(
        self, url: str, headers: dict[str, str], params: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        signed = {
            "x-sign": params["signature"],
            "x-timestamp": params["timestamp"],
            "x-nonce": params["nonce"],
        }
        signing.verify(KEY, signed, body)
        request = json.loads(body)
        self.seen.append(request)
        status, result = self.answer(request)
        raw = json.dumps(result or {}).encode()
        return status, (signing.sign_headers(KEY, raw) if result is not None else {}), raw


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Shop:
    """Partner on fakes: events in, calls attempted when due, the outbox and the tables read back."""

    def __init__(self, answer: Answer, times: RetryTimes = TIMES) -> None:
        self.state, self.clock = FakeState(), Clock()
        self.uow = UnitOfWorkFactory(fake_uow(self.state))
        self.service = PartnerService(self.uow, self.clock)
        self.merchant = ScriptedMerchant(answer)
        self.runner = CallRunner(self.uow, self.merchant, times, self.clock)
        self.settings = PartnerSettings(**FAST)

    async def endpoint(self, merchant_id: str) -> None:
        async def work(uow: PartnerUnitOfWork) -> None:
            await uow.endpoints.add(
                MerchantEndpoint(
                    merchant_id=merchant_id,
                    production_url="https://isv.example",
                    access_key=KEY,
                    public_key_pem="-",
                )
            )
            await uow.commit()

        await self.uow.run(work)

    async def handle(self, event: Event) -> None:
        await self.service.handle(event)

    def call(self, call_id: str) -> MerchantCall:
        return MerchantCall.model_validate(self.state.tables["merchant_calls"][call_id])

    async def attempt(self, call_id: str) -> MerchantCall:
        due = self.call(call_id).due_at
        assert due is not None, f"{call_id} is not due"
        self.clock.now = max(self.clock.now, due)
        return await self.runner.attempt(call_id)

    def notices(self, kind: NoticeKind) -> list[NoticeRequested]:
        return [e for e in self.state.outbox if isinstance(e, NoticeRequested) and e.payload.kind is kind]

    def of(self, kind: type[Event]) -> list[Any]:
        return [e for e in self.state.outbox if isinstance(e, kind)]


def saas_paid(p: Any = None, **kw: Any) -> OrderPaid:
    paid = order_paid(p or parties(None), ratio=None, delivery_type=DeliveryType.SAAS_INSTANT, **kw)
    return paid


def by_activity(**answers: Any) -> Answer:
    """Answer each activity from its script: a list is consumed one answer per call."""

    def answer(body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        script = answers[body["activity"]]
        got = script.pop(0) if isinstance(script, list) else script
        return got if isinstance(got, tuple) else (200, got)

    return answer


# --- §8.2.2: 000004 → queryInstance polling ---------------------------------------------------------------
async def test_a_processing_answer_is_followed_by_polling_until_the_instance_is_ready() -> None:
    shop = Shop(
        by_activity(
            newInstance={"resultCode": "000004", "instanceId": "inst-9"},
            queryInstance=[{"resultCode": "000004"}, {"resultCode": "000000", "instanceId": "inst-9"}],
        )
    )
    paid = saas_paid()
    await shop.endpoint(paid.payload.parties.merchant_account_id)
    await shop.handle(paid)

    await shop.attempt(f"newInstance:{paid.order_id}")
    poll = shop.call(f"queryInstance:{paid.order_id}")
    assert poll.policy == "poll"
    assert poll.due_at == NOW + timedelta(seconds=60)
    assert (await shop.attempt(poll.call_id)).status == "pending"  # still 000004: polled again
    done = await shop.attempt(poll.call_id)

    assert done.status == "succeeded"
    assert [b["activity"] for b in shop.merchant.seen] == ["newInstance", "queryInstance", "queryInstance"]
    assert shop.merchant.seen[1]["instanceId"] == "inst-9"
    assert shop.state.tables["sales"][paid.order_id]["instance_id"] == "inst-9"
    assert shop.state.outbox == []


async def test_a_failed_asynchronous_creation_is_refunded_and_the_buyer_told() -> None:
    shop = Shop(
        by_activity(
            newInstance={"resultCode": "000004", "instanceId": "inst-9"},
            queryInstance={"resultCode": "000100", "resultMsg": "no instance resource available"},
        )
    )
    paid = saas_paid()
    p = paid.payload.parties
    await shop.endpoint(p.merchant_account_id)
    await shop.handle(paid)
    await shop.attempt(f"newInstance:{paid.order_id}")

    done = await shop.attempt(f"queryInstance:{paid.order_id}")

    assert done.status == "failed"  # the merchant's failure ends the polling at once
    [failed] = shop.of(MerchantCallFailed)
    assert failed.payload.final
    assert failed.payload.consequence == "refund"  # orders refunds it (§8.2.2)
    assert failed.order_id == paid.order_id
    [told] = shop.notices(NoticeKind.ACTIVATION_FAILED)
    assert [(r.role, r.account_id) for r in told.payload.recipients] == [("buyer", p.buyer_account_id)]
    assert told.payload.params["order_id"] == paid.order_id
    assert told.payload.notice_id == f"order:{paid.order_id}:activation_failed"


async def test_polling_gives_up_when_the_window_ends() -> None:
    shop = Shop(by_activity(newInstance={"resultCode": "000004"}, queryInstance={"resultCode": "000004"}))
    paid = saas_paid()
    await shop.endpoint(paid.payload.parties.merchant_account_id)
    await shop.handle(paid)
    await shop.attempt(f"newInstance:{paid.order_id}")
    poll_id = f"queryInstance:{paid.order_id}"
    polls = 0
    while shop.call(poll_id).status == "pending":
        await shop.attempt(poll_id)
        polls += 1
        assert polls < 20

    assert shop.call(poll_id).status == "failed"
    assert shop.clock.now - NOW <= timedelta(seconds=TIMES.poll_window + TIMES.poll_interval)
    [failed] = shop.of(MerchantCallFailed)
    assert (failed.payload.final, failed.payload.consequence) == (True, "refund")
    assert len(shop.notices(NoticeKind.ACTIVATION_FAILED)) == 1


# --- §8.2.2: more than 5 failed orders in a month delist the product ---------------------------------------
async def test_the_sixth_failed_order_of_the_month_delists_the_product_and_tells_the_merchant() -> None:
    give_up_at_once = RetryTimes(long_interval=1, long_window=0, short_interval=1, short_window=0)
    shop = Shop(by_activity(newInstance={"resultCode": "000005"}), give_up_at_once)
    p = parties(None)
    first = saas_paid(p)
    product = first.payload.product
    await shop.endpoint(p.merchant_account_id)
    for n in range(6):
        paid = first if n == 0 else saas_paid(p)
        paid = paid.model_copy(update={"payload": paid.payload.model_copy(update={"product": product})})
        await shop.handle(paid)
        await shop.attempt(f"newInstance:{paid.order_id}")
        assert len(shop.of(ProductFrozen)) == (1 if n == 5 else 0)

    [frozen] = shop.of(ProductFrozen)
    assert frozen.payload.product_id == product.product_id
    assert (frozen.payload.measure, frozen.payload.cause) == ("delisted", "interface_failures")
    [told] = shop.notices(NoticeKind.PRODUCT_DELISTED)
    assert [(r.role, r.account_id) for r in told.payload.recipients] == [("merchant", p.merchant_account_id)]
    assert told.payload.params["product_id"] == product.product_id
    assert len(shop.notices(NoticeKind.ACTIVATION_FAILED)) == 6


# --- §8.2.5: expired and not renewed → released after the freeze period ------------------------------------
def validity(paid: OrderPaid, ends_at: datetime) -> OrderStatusChanged:
    p = paid.payload
    return OrderStatusChanged(
        producer="tests",
        correlation_id=rid("corr"),
        order_id=p.order_id,
        payload=OrderStatusChangedPayload(
            order_id=p.order_id,
            from_status=OrderStatus.PROCESSING,
            to_status=OrderStatus.COMPLETED,
            reason="accepted",
            parties=p.parties,
            amount=p.amount,
            validity_starts_at=ends_at - timedelta(days=30),
            validity_ends_at=ends_at,
            changed_at=NOW,
        ),
    )


def ok(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return 200, {"resultCode": "000000", "instanceId": "inst-1"}


async def test_an_expired_unrenewed_instance_is_frozen_then_released_and_both_parties_told() -> None:
    shop = Shop(ok)
    paid = saas_paid()
    p = paid.payload.parties
    ends = NOW + timedelta(days=30)
    await shop.endpoint(p.merchant_account_id)
    await shop.handle(paid)
    await shop.attempt(f"newInstance:{paid.order_id}")
    await shop.handle(validity(paid, ends))

    expired = await shop.attempt(f"expireInstance:{paid.order_id}")
    assert (expired.status, shop.clock.now) == ("succeeded", ends)
    released = await shop.attempt(f"releaseInstance:lapse:{paid.order_id}")

    assert released.status == "succeeded"
    assert shop.clock.now == ends + timedelta(days=FREEZE_DAYS)
    assert [b["activity"] for b in shop.merchant.seen] == ["newInstance", "expireInstance", "releaseInstance"]
    assert shop.merchant.seen[-1]["instanceId"] == "inst-1"
    [told] = shop.notices(NoticeKind.INSTANCE_RELEASED)
    assert {(r.role, r.account_id) for r in told.payload.recipients} == {
        ("buyer", p.buyer_account_id),
        ("merchant", p.merchant_account_id),
    }
    assert told.payload.params["cause"] == "expired"
    assert told.payload.params["instance_id"] == "inst-1"


async def test_a_renewal_during_the_freeze_period_moves_the_release() -> None:
    shop = Shop(ok)
    paid = saas_paid()
    ends = NOW + timedelta(days=30)
    await shop.endpoint(paid.payload.parties.merchant_account_id)
    await shop.handle(paid)
    await shop.handle(validity(paid, ends))
    await shop.attempt(f"expireInstance:{paid.order_id}")  # frozen
    renewal = saas_paid(paid.payload.parties)
    renewal = renewal.model_copy(
        update={
            "payload": renewal.payload.model_copy(
                update={"order_type": "renewal", "original_order_id": paid.order_id}
            )
        }
    )
    await shop.handle(renewal)
    await shop.handle(validity(renewal, ends + timedelta(days=365)))

    lapse = shop.call(f"releaseInstance:lapse:{paid.order_id}")
    assert lapse.due_at == ends + timedelta(days=365 + FREEZE_DAYS)
    assert lapse.status == "pending"
    refresh = await shop.attempt(f"refreshInstance:{renewal.order_id}")  # the merchant unfreezes (§8.2.4)
    assert refresh.body["scene"] == "RENEWAL"
    assert shop.notices(NoticeKind.INSTANCE_RELEASED) == []


async def test_an_unsubscribe_releases_at_once_and_cancels_the_lapse_release() -> None:
    shop = Shop(ok)
    paid = saas_paid()
    await shop.endpoint(paid.payload.parties.merchant_account_id)
    await shop.handle(paid)
    await shop.handle(validity(paid, NOW + timedelta(days=30)))
    p = paid.payload
    await shop.handle(refund_decided(paid, str(p.amount)))

    assert shop.call(f"releaseInstance:lapse:{paid.order_id}").status == "cancelled"
    await shop.handle(validity(paid, NOW + timedelta(days=60)))  # a later validity end schedules no release
    assert shop.call(f"releaseInstance:lapse:{paid.order_id}").status == "cancelled"
    released = await shop.attempt(f"releaseInstance:{paid.order_id}")
    assert released.status == "succeeded"
    [told] = shop.notices(NoticeKind.INSTANCE_RELEASED)
    assert told.payload.params["cause"] == "unsubscribed"


# --- §8.2.6: an upgrade carries its prorated amount ---------------------------------------------------------
async def test_an_upgrade_call_carries_the_amount_the_upgrade_order_was_paid() -> None:
    shop = Shop(ok)
    p = parties(None)
    first = saas_paid(p, amount="300.00")
    monthly = first.payload.product.model_copy(
        update={"billing_mode": BillingMode.PERIODIC_MONTHLY, "period_months": 1}
    )
    first = first.model_copy(update={"payload": first.payload.model_copy(update={"product": monthly})})
    await shop.handle(first)
    await shop.handle(validity(first, NOW + timedelta(days=10)))
    upgrade = saas_paid(p, amount="100.00")  # orders priced it: 300 → 600 for 10 of 30 days (§8.2.6)
    upgrade = upgrade.model_copy(
        update={
            "payload": upgrade.payload.model_copy(
                update={
                    "order_type": "upgrade",
                    "original_order_id": first.order_id,
                    "product": monthly,
                    "paid_at": NOW,
                }
            )
        }
    )
    await shop.handle(upgrade)

    call = shop.call(f"upgrade:{upgrade.order_id}")
    # The order's amount, already prorated by orders (services/orders/upgrades.py), with 3 decimals (§8.2.3).
    assert call.body["orderAmount"] == "100.000"
    assert call.body["instanceId"] == first.order_id


# --- §8.2.8: dial tests morning and afternoon; 5 failing days freeze trading -------------------------------
async def test_dial_tests_run_twice_a_day_and_five_failing_days_freeze_the_product() -> None:
    shop = Shop(lambda body: (503, None))  # the merchant's interface is down: unsigned 503s
    paid = saas_paid()
    product, merchant = paid.payload.product.product_id, paid.payload.parties.merchant_account_id
    await shop.endpoint(merchant)
    await shop.handle(paid)
    dials = DialTests(Deps(shop.uow, shop.settings, shop.clock))
    first_day = date(2026, 12, 1)
    for n in range(5):
        for hour_utc, slot in ((1, "am"), (7, "pm")):  # 09:00 and 15:00 in Beijing
            day = first_day + timedelta(days=n)
            shop.clock.now = datetime(day.year, day.month, day.day, hour_utc, 30, tzinfo=UTC)
            queued = await dials.run_once(shop.clock.now)
            assert queued == [f"dial:{product}:{day:%Y%m%d}:{slot}"]
            assert await dials.run_once(shop.clock.now) == []  # a slot is tested once
            done = await shop.attempt(queued[0])
            assert done.status == "failed"
            assert done.body["testFlag"] == "1"
            assert len(shop.of(ProductFrozen)) == (1 if (n, slot) == (4, "pm") else 0)

    [frozen] = shop.of(ProductFrozen)
    assert (frozen.payload.measure, frozen.payload.cause) == ("frozen", "dial_tests")
    [told] = shop.notices(NoticeKind.PRODUCT_FROZEN)
    assert told.payload.recipients[0].account_id == merchant
    assert shop.of(MerchantCallFailed) == []  # a dial test concerns no order: no refund path
    failures = shop.notices(NoticeKind.DIAL_TEST_FAILED)  # each failed test told to the merchant (§8.2.8)
    assert len(failures) == 10
    assert {n.payload.recipients[0].account_id for n in failures} == {merchant}
    assert failures[0].payload.params["slot"] == "am"
    later = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
    assert await dials.run_once(later) == []  # a frozen product is no longer tested


async def test_a_signed_answer_of_any_result_code_passes_the_dial_test() -> None:
    shop = Shop(lambda body: (200, {"resultCode": "000003", "resultMsg": "instance not found"}))
    paid = saas_paid()
    await shop.endpoint(paid.payload.parties.merchant_account_id)
    await shop.handle(paid)
    dials = DialTests(Deps(shop.uow, shop.settings, shop.clock))
    shop.clock.now = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)
    [item] = await dials.run_once(shop.clock.now)

    assert (await shop.attempt(item)).status == "succeeded"
    health = shop.state.tables["product_health"][paid.payload.product.product_id]
    assert health["dial_days"] == {"2026-12-01": {"am": True}}
    assert shop.notices(NoticeKind.DIAL_TEST_FAILED) == []


async def test_no_lapse_release_is_scheduled_after_an_unsubscribe_released_the_instance() -> None:
    shop = Shop(ok)
    paid = saas_paid()
    await shop.endpoint(paid.payload.parties.merchant_account_id)
    await shop.handle(paid)
    await shop.handle(refund_decided(paid, str(paid.payload.amount)))
    await shop.handle(validity(paid, NOW + timedelta(days=30)))

    assert f"releaseInstance:{paid.order_id}" in shop.state.tables["merchant_calls"]
    assert f"releaseInstance:lapse:{paid.order_id}" not in shop.state.tables["merchant_calls"]
