"""Provider bills go review → sent → paid (dossier §7.6), moved by operators over partner's routes, and the
provider is told at each step (notice.requested, kind bill_status, in the outbox with the bill)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.partner.domain import LedgerEntry
from shared.schemas import NoticeRequested
from shared.workdays import BEIJING
from tests.service.test_partner_api import NOW, Partner, person


@pytest.fixture
def partner() -> Partner:
    return Partner()


def told(partner: Partner) -> list[NoticeRequested]:
    return [e for e in partner.state.outbox if isinstance(e, NoticeRequested)]


async def test_a_bill_is_sent_then_paid_by_operators_and_its_provider_is_told_each_step(
    partner: Partner,
) -> None:
    prov, other, operator = partner.provider(), partner.provider(), person("operator")
    entry = LedgerEntry(
        entry_id="commission:CS9",
        provider_id=prov[0],
        order_id="CS9",
        kind="commission",
        base=Decimal("300.00"),
        ratio=Decimal("0.1"),
        amount=Decimal("30.00"),
        currency="CNY",
        at=NOW,
    )
    partner.state.table("ledger")[entry.entry_id] = entry.model_dump()
    month = NOW.astimezone(BEIJING).strftime("%Y%m")
    [bill] = await partner.call("POST", f"/providers/{prov[0]}/bills", operator, 201, json={"month": month})
    assert (bill["state"], [s["state"] for s in bill["history"]]) == ("review", ["review"])
    base = f"/providers/{prov[0]}/bills/{bill['bill_id']}"

    await partner.refused("POST", f"{base}/send", prov, "operators_only")
    early = await partner.call("POST", f"{base}/paid", operator, 409)
    assert "review → sent → paid" in early["detail"]["message"]
    await partner.call("POST", f"/providers/{other[0]}/bills/{bill['bill_id']}/send", operator, 404)
    sent = await partner.call("POST", f"{base}/send", operator, 200)
    await partner.call("POST", f"{base}/send", operator, 409)  # sent once
    paid = await partner.call("POST", f"{base}/paid", operator, 200)

    assert (sent["state"], paid["state"]) == ("sent", "paid")
    assert [(s["state"], s["by"]) for s in paid["history"]] == [
        ("review", None),
        ("sent", operator[0]),
        ("paid", operator[0]),
    ]
    notices = told(partner)
    assert [n.payload.notice_id for n in notices] == [
        f"bill:{bill['bill_id']}:{state}" for state in ("review", "sent", "paid")
    ]
    assert {(r.role.value, r.account_id) for n in notices for r in n.payload.recipients} == {
        ("provider", prov[0])
    }
    assert notices[-1].payload.kind == "bill_status"
    assert notices[-1].payload.params == {
        "bill_id": bill["bill_id"],
        "kind": "basic",
        "period": month,
        "state": "paid",
        "status": "paid",
        "amount": "30.00",
        "currency": "CNY",
        "fee_tax_rate": bill["fee_tax_rate"],
    }
