"""HTTP routes of settlement: bills per tax rate, the provider's statement, invoice records."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from services.partner.api import _selling
from services.partner.billing import Bill
from services.partner.services import ledger
from shared.platform.errors import Forbidden
from shared.platform.http import AccountId

router = APIRouter(tags=["settlement"])


class BillRunIn(BaseModel):
    month: str | None = Field(default=None, description="yyyymm: basic-incentive bills")
    quarter: str | None = Field(default=None, description="yyyyQn: performance bills")


@router.post("/providers/{provider_id}/bills", status_code=201)
async def run_bills(provider_id: str, body: BillRunIn, caller: AccountId, request: Request) -> list[Bill]:
    """Generate a provider's monthly basic-incentive and/or quarterly performance bills, per tax rate (operator)."""
    return await _selling(request).run_bills(caller, provider_id, body.month, body.quarter)


@router.get("/providers/{provider_id}/statement")
async def statement(provider_id: str, caller: AccountId, request: Request) -> dict[str, Any]:
    """The provider's statement: its bills, their invoices, and what is billed and unbilled."""
    if caller != provider_id:
        raise Forbidden("a provider's statement is visible to that provider only")
    db = request.app.state.runtime.db
    bills = [Bill.model_validate(d) for d in await db["bills"].find({"provider_id": provider_id}).to_list(None)]
    live = await ledger(db, provider_id)
    unbilled = sum((e.amount for e in live.entries if e.bill_id is None), Decimal("0.00"))
    return {"provider_id": provider_id, "bills": [b.model_dump(mode="json") for b in bills],
            "billed_basic": str(sum((b.amount for b in bills if b.kind == "basic"), Decimal("0.00"))),
            "unbilled": str(unbilled), "ledger_total": str(live.total)}


class InvoiceIn(BaseModel):
    invoice_no: str
    amount: Decimal


@router.post("/providers/{provider_id}/bills/{bill_id}/invoice")
async def invoice(provider_id: str, bill_id: str, body: InvoiceIn, caller: AccountId, request: Request) -> Bill:
    """Record the provider's invoice for a bill."""
    if caller != provider_id:
        raise Forbidden("a provider invoices its own bills")
    return await _selling(request).invoice(caller, bill_id, body.invoice_no, body.amount)
