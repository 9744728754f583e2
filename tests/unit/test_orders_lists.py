"""The rules of the orders lists and reminders (dossier §9.2, §6.3) and of milestone offers (§4.2): the keyset
cursor, the filters' checks, the buyer's reminder rate limit, the expiry reminder schedule at 10:00 Beijing
time (day boundaries included), and what an offer may be and when it may be ordered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.orders.catalogue import Product, Specification
from services.orders.lists import OrderFilter, check_limit, cut, decode_cursor, encode_cursor
from services.orders.offers import MilestoneOffer
from services.orders.reminders import RemindTooSoon, check_reminder, due, next_at, reminder_at, schedule
from shared.platform.errors import DomainError, Forbidden, InvalidInput, LimitReached
from shared.platform.http import status_of
from shared.schemas import BillingMode, DeliveryType, Milestone, OrderStatus
from shared.workdays import BEIJING

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


# --- the keyset cursor --------------------------------------------------------------------------------------


def test_a_cursor_names_the_position_it_was_made_from() -> None:
    at = datetime(2026, 11, 30, 1, 2, 3, 456000, tzinfo=UTC)
    position = decode_cursor(encode_cursor(at, "CS261130010203ABCD"))
    assert position is not None
    assert (position.at, position.id) == (at, "CS261130010203ABCD")
    assert decode_cursor(None) is None


@pytest.mark.parametrize("bad", ["not-base64!", "e30", encode_cursor(NOW, "x")[:-3] + "zzz"])
def test_a_cursor_this_service_did_not_write_is_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        decode_cursor(bad)
    assert refused.value.field == "cursor"


def test_the_extra_row_only_says_another_page_follows() -> None:
    assert cut([1, 2, 3], 2) == ([1, 2], True)
    assert cut([1, 2], 2) == ([1, 2], False)
    assert cut([], 2) == ([], False)


def test_limits_and_placed_windows_are_checked() -> None:
    assert check_limit(100) == 100
    for bad in (0, 101):
        with pytest.raises(InvalidInput):
            check_limit(bad)
    with pytest.raises(InvalidInput) as refused:
        OrderFilter(placed_from=NOW, placed_to=NOW).check()
    assert refused.value.field == "placed_to"
    OrderFilter(placed_from=NOW, placed_to=NOW + timedelta(seconds=1)).check()


# --- the buyer's reminder (催促) -------------------------------------------------------------------------------


def test_a_reminder_is_once_per_order_per_day_with_the_time_of_the_next() -> None:
    check_reminder("CS1", OrderStatus.PROCESSING, None, NOW)
    last = NOW - timedelta(hours=23)
    with pytest.raises(RemindTooSoon) as refused:
        check_reminder("CS1", OrderStatus.PROCESSING, last, NOW)
    assert refused.value.allowed_at == last + timedelta(hours=24)
    assert refused.value.retry_after == 3600
    assert isinstance(refused.value, LimitReached)
    assert status_of(refused.value) == 429
    check_reminder("CS1", OrderStatus.PROCESSING, NOW - timedelta(hours=24), NOW)  # exactly a day: allowed


@pytest.mark.parametrize("status", [OrderStatus.PENDING_PAYMENT, OrderStatus.COMPLETED, OrderStatus.REFUNDED])
def test_only_an_order_in_progress_is_reminded(status: OrderStatus) -> None:
    with pytest.raises(DomainError) as refused:
        check_reminder("CS1", status, None, NOW)
    assert status_of(refused.value) == 409


# --- the expiry reminders: 15, 7, 3, 1 days before, at 10:00 Beijing time ------------------------------------


def test_reminders_are_at_ten_beijing_on_the_beijing_dates_before_expiry() -> None:
    expires = datetime(2026, 12, 31, 12, 0, tzinfo=BEIJING)
    assert [(d, at.astimezone(BEIJING)) for d, at in schedule(expires)] == [
        (15, datetime(2026, 12, 16, 10, 0, tzinfo=BEIJING)),
        (7, datetime(2026, 12, 24, 10, 0, tzinfo=BEIJING)),
        (3, datetime(2026, 12, 28, 10, 0, tzinfo=BEIJING)),
        (1, datetime(2026, 12, 30, 10, 0, tzinfo=BEIJING)),
    ]
    assert reminder_at(expires, 1) == datetime(2026, 12, 30, 2, 0, tzinfo=UTC)  # 10:00 Beijing is 02:00 UTC


def test_the_day_is_the_beijing_day_not_the_utc_day() -> None:
    # 17:00 UTC on Dec 31 is already Jan 1 in Beijing: one day before is Dec 31, 10:00 Beijing.
    expires = datetime(2026, 12, 31, 17, 0, tzinfo=UTC)
    assert reminder_at(expires, 1) == datetime(2026, 12, 31, 10, 0, tzinfo=BEIJING)
    # 15:59 UTC on Dec 31 is 23:59 Dec 31 in Beijing: one day before is Dec 30.
    assert reminder_at(datetime(2026, 12, 31, 15, 59, tzinfo=UTC), 1) == datetime(
        2026, 12, 30, 10, 0, tzinfo=BEIJING
    )
    # across a month and a year: 15 days before Jan 5 is Dec 21
    assert reminder_at(datetime(2027, 1, 5, 9, 0, tzinfo=BEIJING), 15).date() == datetime(2026, 12, 21).date()


def test_each_reminder_is_due_once_from_its_time() -> None:
    expires = datetime(2026, 12, 31, 12, 0, tzinfo=BEIJING)
    before = datetime(2026, 12, 16, 9, 59, tzinfo=BEIJING)
    assert due(expires, [], before) == (None, [])
    assert next_at(expires, []) == datetime(2026, 12, 16, 10, 0, tzinfo=BEIJING)
    at_ten = datetime(2026, 12, 16, 10, 0, tzinfo=BEIJING)
    assert due(expires, [], at_ten) == (15, [])
    assert due(expires, [15], at_ten) == (None, [])  # sent: not again
    assert next_at(expires, [15]) == datetime(2026, 12, 24, 10, 0, tzinfo=BEIJING)
    assert next_at(expires, [15, 7, 3, 1]) is None


def test_a_late_sweep_sends_the_nearest_reminder_and_skips_the_stale_ones() -> None:
    expires = datetime(2026, 12, 31, 12, 0, tzinfo=BEIJING)
    late = datetime(2026, 12, 29, 8, 0, tzinfo=BEIJING)  # past the 15-, 7- and 3-day times
    assert due(expires, [], late) == (3, [15, 7])
    assert due(expires, [], expires) == (None, [])  # expired: nothing more


# --- milestone offers ------------------------------------------------------------------------------------------


def _product(
    delivery: DeliveryType = DeliveryType.MANUAL_SERVICE, mode: BillingMode = BillingMode.ONE_TIME
) -> Product:
    spec = Specification(spec_id="s", name="S", billing_mode=mode, price=Decimal("100.00"), period_months=12)
    return Product(
        product_id="p1",
        merchant_account_id="m1",
        merchant_name="M",
        name="Migration",
        delivery_type=delivery,
        specifications=[spec],
        flow_template="standard",
        status="listed",
    )


HALVES = [
    Milestone(milestone_id="m1", title="design", proportion=Decimal("0.5")),
    Milestone(milestone_id="m2", title="build", proportion=Decimal("0.5")),
]


def _offer(**over: object) -> MilestoneOffer:
    body: dict[str, object] = {
        "offer_id": "MO-1",
        "merchant_account_id": "m1",
        "buyer_account_id": "b1",
        "name": "Phase 1",
        "product_id": "p1",
        "spec_id": "s",
        "quantity": 2,
        "amount": Decimal("200.00"),
        "milestones": HALVES,
        "valid_from": NOW - timedelta(days=1),
        "valid_until": NOW + timedelta(days=1),
        "created_at": NOW - timedelta(days=1),
        **over,
    }
    return MilestoneOffer.model_validate(body)


def test_an_offer_needs_one_time_billing_a_milestone_delivery_type_and_whole_proportions() -> None:
    product = _product()
    MilestoneOffer.check_terms(product, product.specifications[0], HALVES)
    yearly = _product(mode=BillingMode.PERIODIC_YEARLY)
    with pytest.raises(InvalidInput, match="one-time"):
        MilestoneOffer.check_terms(yearly, yearly.specifications[0], HALVES)
    for delivery in (DeliveryType.HARDWARE, DeliveryType.LICENSE_CODE, DeliveryType.API):
        other = _product(delivery)
        with pytest.raises(InvalidInput):
            MilestoneOffer.check_terms(other, other.specifications[0], HALVES)
    with pytest.raises(InvalidInput, match="sum to 1"):
        MilestoneOffer.check_terms(product, product.specifications[0], HALVES[:1])
    twice = [HALVES[0], HALVES[0].model_copy(update={"title": "again"})]
    with pytest.raises(InvalidInput, match="unique"):
        MilestoneOffer.check_terms(product, product.specifications[0], twice)


def test_only_its_customer_orders_an_offer_once_within_its_validity() -> None:
    offer = _offer()
    with pytest.raises(Forbidden) as stranger:
        offer.take("b2", "CS2", NOW)  # another buyer
    assert stranger.value.rule == "the_offers_customer_only"
    with pytest.raises(Forbidden):
        offer.visible_to("b2")
    offer.visible_to("b2", operator=True)
    offer.visible_to("m1")
    offer.take("b1", "CS1", NOW)
    assert (offer.status, offer.order_id, offer.used_at) == ("used", "CS1", NOW)
    with pytest.raises(DomainError) as again:
        offer.take("b1", "CS3", NOW)
    assert status_of(again.value) == 409
    assert offer.order_id == "CS1"


def test_an_expired_or_not_yet_valid_offer_is_a_conflict() -> None:
    with pytest.raises(DomainError) as expired:
        _offer().take("b1", "CS1", NOW + timedelta(days=1))  # valid_until is exclusive
    assert status_of(expired.value) == 409
    assert expired.value.field == "valid_until"
    with pytest.raises(DomainError) as early:
        _offer(valid_from=NOW + timedelta(hours=1)).take("b1", "CS1", NOW)
    assert early.value.field == "valid_from"


def test_its_merchant_withdraws_an_offer_not_yet_ordered() -> None:
    offer = _offer()
    with pytest.raises(DomainError) as other:
        offer.withdraw("m2", NOW)
    assert status_of(other.value) == 403
    offer.withdraw("m1", NOW)
    offer.withdraw("m1", NOW)  # again: no change
    assert offer.status == "withdrawn"
    with pytest.raises(DomainError):
        offer.take("b1", "CS1", NOW)
    used = _offer()
    used.take("b1", "CS1", NOW)
    with pytest.raises(DomainError) as late:
        used.withdraw("m1", NOW)
    assert status_of(late.value) == 409
