"""Acceptance-rule routing (dossier §3.1), milestone-offer refusals (§4.2) and the business-day calendar (§5.3)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from services.supervision.rules import (
    AcceptanceRule,
    Policy,
    acceptance_rule,
    check_milestone_offer,
    same_phone,
)
from shared.platform.errors import InvalidInput
from shared.schemas import (
    BillingMode,
    BuyerTrack,
    Coupon,
    CouponKind,
    DeliveryType,
    Milestone,
    OrderPaidPayload,
    SaleMode,
)
from shared.workdays import BEIJING, WorkdayCalendar
from tests.factories import order_paid, parties

CASH, VOUCHER, OTHER = CouponKind.EMPOWERMENT_CLOUD_CASH, CouponKind.BASE_CLOUD_VOUCHER, CouponKind.OTHER
EMP, BASE = BuyerTrack.EMPOWERMENT_CLOUD, BuyerTrack.BASE_CLOUD


def payload(
    sale_mode: SaleMode = SaleMode.GENERAL,
    track: BuyerTrack | None = None,
    coupons: tuple[CouponKind, ...] = (),
    **changes: object,
) -> OrderPaidPayload:
    p = order_paid(parties()).payload
    product = p.product.model_copy(
        update={
            "sale_mode": sale_mode,
            **{k: v for k, v in changes.items() if k in ("billing_mode", "delivery_type")},
        }
    )
    return p.model_copy(
        update={
            "product": product,
            "buyer_track": track,
            "coupons": [Coupon(kind=k, amount=Decimal("10")) for k in coupons],
            **{k: v for k, v in changes.items() if k not in ("billing_mode", "delivery_type")},
        }
    )


@pytest.mark.parametrize(
    ("sale_mode", "track", "coupons", "rule"),
    [
        (SaleMode.GENERAL, None, (), AcceptanceRule.MERCHANT_CUSTOM),
        (
            SaleMode.GENERAL,
            EMP,
            (CASH,),
            AcceptanceRule.MERCHANT_CUSTOM,
        ),  # general: merchant-custom in every scenario
        (SaleMode.SELF_SERVICE, BASE, (VOUCHER,), AcceptanceRule.MERCHANT_CUSTOM),
        (SaleMode.JOINT_OPERATION, EMP, (), AcceptanceRule.EMPOWERMENT_CLOUD),
        (SaleMode.JOINT_OPERATION, None, (CASH,), AcceptanceRule.EMPOWERMENT_CLOUD),
        (
            SaleMode.JOINT_OPERATION,
            BASE,
            (CASH,),
            AcceptanceRule.EMPOWERMENT_CLOUD,
        ),  # the cash coupon decides
        (SaleMode.JOINT_OPERATION, BASE, (), AcceptanceRule.BASE_CLOUD),
        (SaleMode.JOINT_OPERATION, None, (VOUCHER,), AcceptanceRule.BASE_CLOUD),
        (SaleMode.JOINT_OPERATION, None, (OTHER,), AcceptanceRule.MERCHANT_CUSTOM),
        (SaleMode.JOINT_OPERATION, None, (), AcceptanceRule.MERCHANT_CUSTOM),
    ],
)
def test_the_acceptance_rule_follows_the_decision_table(
    sale_mode: SaleMode, track: BuyerTrack | None, coupons: tuple[CouponKind, ...], rule: AcceptanceRule
) -> None:
    assert acceptance_rule(payload(sale_mode, track, coupons)) is rule
    assert rule.platform_review is (rule is not AcceptanceRule.MERCHANT_CUSTOM)


def milestones(*proportions: str) -> list[Milestone]:
    return [
        Milestone(milestone_id=f"m{i}", title=f"stage {i}", proportion=Decimal(p))
        for i, p in enumerate(proportions, start=1)
    ]


def test_a_valid_milestone_offer_passes() -> None:
    check_milestone_offer(payload(milestones=milestones("0.3", "0.7")))
    check_milestone_offer(payload())  # no milestones: nothing to check


@pytest.mark.parametrize(
    ("changes", "field", "cites"),
    [
        ({"billing_mode": BillingMode.PERIODIC_YEARLY}, "billing_mode", "one-time billing only"),
        ({"billing_mode": BillingMode.PERIODIC_MONTHLY}, "billing_mode", "one-time billing only"),
        ({"billing_mode": BillingMode.PAY_PER_USE}, "billing_mode", "pay-per-use"),
        ({"billing_mode": BillingMode.PAY_PER_USE_PACKAGE}, "billing_mode", "pay-per-use packages"),
        ({"order_type": "renewal"}, "order_type", "new purchases only"),
        ({"order_type": "upgrade"}, "order_type", "new purchases only"),
        (
            {"delivery_type": DeliveryType.HARDWARE},
            "delivery_type",
            "SaaS, License and professional services",
        ),
        ({"milestones": milestones("0.3", "0.6")}, "milestones", "add up to 1"),
        ({"milestones": [*milestones("0.5"), *milestones("0.5")]}, "milestones", "unique"),
    ],
)
def test_milestone_offers_are_refused_citing_the_rule(
    changes: dict[str, object], field: str, cites: str
) -> None:
    p = payload(**{"milestones": milestones("0.5", "0.5"), **changes})
    with pytest.raises(InvalidInput) as refused:
        check_milestone_offer(p)
    assert refused.value.field == field
    assert cites in refused.value.message
    assert "dossier §4.2" in refused.value.message


def bj(y: int, m: int, d: int, h: int = 10) -> datetime:
    return datetime(y, m, d, h, tzinfo=BEIJING)


@pytest.mark.parametrize(
    ("raised", "due"),
    [
        (bj(2026, 3, 2), bj(2026, 3, 5)),  # Monday → Thursday
        (bj(2026, 3, 6), bj(2026, 3, 11)),  # Friday → Wednesday (the weekend does not count)
        (bj(2026, 3, 7), bj(2026, 3, 12, 0)),  # Saturday: Monday to Wednesday, whole days
        # National Day (1-7 October) does not count; Saturday 10 October is a make-up working day (调休)
        (bj(2026, 9, 30), bj(2026, 10, 10)),
        (bj(2026, 10, 1), bj(2026, 10, 12, 0)),  # raised on a holiday: from the 8th's start
    ],
)
def test_the_appeal_sla_counts_statutory_working_days(raised: datetime, due: datetime) -> None:
    """Dossier §5.3/§5.4: the operators answer within 3 working days (business calendar, UTC+8)."""
    assert Policy().appeal_due(raised.astimezone(UTC)) == due


def test_the_sla_counts_the_days_off_the_settings_add() -> None:
    policy = Policy(calendar=WorkdayCalendar({date(2026, 3, 3): False}))  # an extra day off
    assert policy.appeal_due(bj(2026, 3, 2)) == bj(2026, 3, 6)


def test_an_sla_override_replaces_the_calendar() -> None:
    policy = Policy(appeal_sla_override=timedelta(seconds=5))
    assert policy.appeal_due(bj(2026, 3, 7)) == bj(2026, 3, 7) + timedelta(seconds=5)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("+8613811110001", "+86 138-1111-0001", True),
        ("+8613811110001", "+8613811110009", False),
        ("+8613811110001", None, False),
        (None, None, False),
    ],
)
def test_phones_are_compared_by_their_digits(a: str | None, b: str | None, same: bool) -> None:
    assert same_phone(a, b) is same
