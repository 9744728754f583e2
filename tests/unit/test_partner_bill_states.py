"""A provider bill's states (services/partner/billing.py, dossier §7.6): review → sent → paid, one step at a
time, with the provider's notice keyed by the bill and the state."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.partner.billing import Bill, BillStep, move, status_notice
from shared.platform.errors import DomainError

NOW = datetime(2026, 11, 3, tzinfo=UTC)


def bill() -> Bill:
    return Bill(
        bill_id="basic:P1:202610:0.06",
        kind="basic",
        provider_id="P1",
        period="202610",
        fee_tax_rate=Decimal("0.06"),
        entry_ids=["e1"],
        net_earnings=Decimal("10.00"),
        amount=Decimal("10.00"),
        created_at=NOW,
        history=[BillStep(state="review", at=NOW)],
    )


@pytest.mark.parametrize(("start", "to"), [("review", "paid"), ("sent", "sent"), ("paid", "sent")])
def test_no_step_is_skipped_or_repeated(start: str, to: str) -> None:
    b = bill().model_copy(update={"state": start})
    with pytest.raises(DomainError, match="review → sent → paid"):
        move(b, to, "op", NOW)  # type: ignore[arg-type]
    assert b.state == start


def test_review_then_sent_then_paid_each_with_its_own_notice() -> None:
    b = bill()
    keys = [status_notice(b, "c").payload.notice_id]
    for to in ("sent", "paid"):
        move(b, to, "op", NOW)  # type: ignore[arg-type]
        keys.append(status_notice(b, "c").payload.notice_id)
    assert keys == [
        "bill:basic:P1:202610:0.06:review",
        "bill:basic:P1:202610:0.06:sent",
        "bill:basic:P1:202610:0.06:paid",
    ]
    assert [s.state for s in b.history] == ["review", "sent", "paid"]
    assert status_notice(b, "c").partition_key == b.bill_id
