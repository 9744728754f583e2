"""Refunds have one owner, the orders service (services/orders/refunds.py): the guarantee period (dossier
§1.4) as orders learns it from acceptance.done, the freeze of an open appeal (§5.3) from appeal.raised and
appeal.resolved, License 2.0's claimed code (§1.4), the merchant's decision and the appeal's refund."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.orders.domain import Order
from services.orders.progress import AgreedRecord
from services.orders.refunds import (
    CodeClaimed,
    Frozen,
    appeal_resolved,
    decide_refund,
    in_guarantee_period,
    request_refund,
)
from shared.platform.errors import DomainError, Forbidden, NotFound
from shared.platform.http import status_of
from shared.schemas import (
    AppealOutcome,
    DeliveryType,
    OrderStatus,
    OrderStatusChanged,
    PartyRole,
    ProductSnapshot,
    RefundDecided,
)

NOW = datetime(2026, 11, 10, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
RECORD = AgreedRecord(kind="document", ref="ticket 7")


def paid(delivery: DeliveryType = DeliveryType.MANUAL_SERVICE) -> Order:
    o = Order(
        order_id="CS1",
        buyer_account_id="b",
        merchant_account_id="m",
        amount=Decimal("100.00"),
        product=ProductSnapshot(product_id="p", name="x", delivery_type=delivery),
        created_at=NOW,
    )
    o.pay("pay-1", o.amount, NOW, "c")
    return o


def frozen(o: Order, appeal_id: str = "AP-1") -> Order:
    o.progress = o.progress.appeal_raised("SO-1", appeal_id, "not delivered", NOW)
    return o


def test_the_guarantee_period_runs_from_payment_to_acceptance_of_a_supervised_order() -> None:
    o = paid()
    assert in_guarantee_period(o)
    o.complete_after_acceptance(LATER, None)
    assert not in_guarantee_period(o)
    assert not in_guarantee_period(paid(DeliveryType.IMAGE))  # not supervised: no guarantee period


def test_a_request_after_acceptance_is_a_409_citing_the_dossier() -> None:
    o = paid()
    o.complete_after_acceptance(LATER, None)
    with pytest.raises(DomainError, match=r"guarantee period.*§1\.4") as refused:
        request_refund(o, "b", None, "late", LATER, 0, "c")
    assert status_of(refused.value) == 409
    assert o.refund is None


def test_a_request_while_an_appeal_is_open_is_a_409_citing_the_dossier() -> None:
    o = frozen(paid())
    with pytest.raises(Frozen, match=r"appeal AP-1.*§5\.3") as refused:
        request_refund(o, "b", None, "x", NOW, 0, "c")
    assert (status_of(refused.value), refused.value.code) == (409, "frozen_by_appeal")
    assert o.refund is None


def test_an_appeal_resolved_without_a_refund_makes_the_order_operable_again() -> None:
    o = frozen(paid())
    assert appeal_resolved(o, "SO-1", "AP-1", AppealOutcome.RESUME, "op", "", LATER, "c") == []
    assert (o.progress.appeal, o.progress.resolved_appeals) == (None, ["AP-1"])
    [requested] = request_refund(o, "b", None, "x", LATER, 0, "c")
    assert requested.event_type == "refund.requested"


def test_an_appeal_resolved_before_its_raise_arrived_does_not_freeze_the_order() -> None:
    """appeal.raised and appeal.resolved are two topics: read in any order, the later raise changes
    nothing."""
    o = paid()
    appeal_resolved(o, "SO-1", "AP-1", AppealOutcome.RESUME, "op", "", LATER, "c")
    frozen(o, "AP-1")
    assert o.progress.appeal is None
    frozen(o, "AP-2")  # another appeal does freeze it
    assert o.progress.appeal is not None


def test_no_negotiated_refund_once_a_license_2_code_is_claimed() -> None:
    o = paid(DeliveryType.LICENSE_CODE)
    o.progress = o.progress.confirmed("SO-1", "implement", "claim_code", NOW)
    assert request_refund(o, "b", None, "x", NOW, 0, "c")  # implemented, the code not claimed yet
    o.refund = None
    o.progress = o.progress.confirmed("SO-1", "activation", "delivery_proof", LATER)
    with pytest.raises(CodeClaimed, match=r"§1\.4") as refused:
        request_refund(o, "b", None, "x", LATER, 0, "c")
    assert (status_of(refused.value), refused.value.code) == (409, "code_claimed")


def test_only_the_orders_merchant_decides_an_existing_request_once() -> None:
    o = paid()
    request_refund(o, "b", Decimal("30.00"), "x", NOW, 0, "c")
    assert o.refund is not None
    refund_id = o.refund.refund_id
    for outsider in ("b", "another-merchant"):
        with pytest.raises(Forbidden) as refused:
            decide_refund(o, outsider, refund_id, True, "", NOW, "c")
        assert refused.value.rule == "merchant_decides_refund"
    with pytest.raises(NotFound):
        decide_refund(o, "m", "RF-other", True, "", NOW, "c")
    [changed, decided] = decide_refund(o, "m", refund_id, True, "agreed by phone", LATER, "c", RECORD)
    assert o.refund.agreed_record == RECORD
    assert isinstance(changed, OrderStatusChanged)
    assert isinstance(decided, RefundDecided)
    assert (decided.payload.refund_id, decided.payload.amount, decided.payload.opinion) == (
        refund_id,
        Decimal("30.00"),
        "agreed by phone",
    )
    assert (decided.payload.decided_by_role, decided.payload.decided_by_account_id) == (
        PartyRole.MERCHANT,
        "m",
    )
    with pytest.raises(DomainError, match="already approved"):
        decide_refund(o, "m", refund_id, False, "", LATER, "c")


def test_no_decision_while_an_appeal_is_open() -> None:
    o = paid()
    request_refund(o, "b", None, "x", NOW, 0, "c")
    assert o.refund is not None
    frozen(o)
    for approve in (True, False):
        with pytest.raises(Frozen):
            decide_refund(o, "m", o.refund.refund_id, approve, "", LATER, "c")
    assert (o.refund.state, o.status) == ("requested", OrderStatus.PROCESSING)


def test_no_approval_outside_the_guarantee_period_but_a_rejection_closes_the_request() -> None:
    o = paid()
    request_refund(o, "b", None, "x", NOW, 0, "c")
    assert o.refund is not None
    o.complete_after_acceptance(LATER, None)
    with pytest.raises(DomainError, match=r"guarantee period.*§1\.4"):
        decide_refund(o, "m", o.refund.refund_id, True, "", LATER, "c", RECORD)
    [rejected] = decide_refund(o, "m", o.refund.refund_id, False, "delivered", LATER, "c")
    assert isinstance(rejected, RefundDecided)
    assert not rejected.payload.approved
    assert (o.refund.state, o.status) == ("rejected", OrderStatus.COMPLETED)


def test_an_appeal_resolved_with_a_refund_refunds_in_full_once_as_the_operators_decision() -> None:
    o = frozen(paid())
    events = appeal_resolved(o, "SO-1", "AP-1", AppealOutcome.REFUND, "op-7", "both heard", LATER, "c")
    [changed, decided] = events
    assert isinstance(changed, OrderStatusChanged)
    assert changed.payload.to_status is OrderStatus.REFUNDED
    assert "§5.3" in changed.payload.reason
    assert isinstance(decided, RefundDecided)
    p = decided.payload
    assert (p.refund_id, p.approved, p.amount, p.reason, p.opinion) == (
        "RF-AP-1",
        True,
        Decimal("100.00"),
        "not delivered",
        "both heard",
    )
    assert (p.decided_by_role, p.decided_by_account_id, p.service_order_id) == (
        PartyRole.OPERATOR,
        "op-7",
        "SO-1",
    )
    assert o.progress.appeal is None
    assert appeal_resolved(o, "SO-1", "AP-1", AppealOutcome.REFUND, "op-7", "", LATER, "c") == []


def test_an_appeals_refund_grants_the_pending_request() -> None:
    o = paid()
    request_refund(o, "b", Decimal("10.00"), "x", NOW, 0, "c")
    frozen(o)
    appeal_resolved(o, "SO-1", "AP-1", AppealOutcome.REFUND, "op", "", LATER, "c")
    assert o.refund is not None
    assert (o.refund.state, o.refund.decided_at, o.status) == ("approved", LATER, OrderStatus.REFUNDED)
