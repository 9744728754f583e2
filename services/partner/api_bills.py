"""HTTP routes of settlement: bills per tax rate, the provider's statement, invoice records."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from services.partner import reads, settlement
from services.partner.api import Amount, PathId, ProviderOrOperator, deps, queries
from services.partner.billing import Bill
from shared.platform.auth import Operator
from shared.platform.auth import Provider as ProviderCaller

router = APIRouter(tags=["settlement"])


class BillRunIn(BaseModel):
    month: str | None = Field(
        default=None, pattern=r"^2\d{3}(0[1-9]|1[0-2])$", description="yyyymm: basic-incentive bills"
    )
    quarter: str | None = Field(
        default=None, pattern=r"^2\d{3}Q[1-4]$", description="yyyyQn: performance bills"
    )


@router.post("/providers/{provider_id}/bills", status_code=201)
async def run_bills(provider_id: PathId, body: BillRunIn, caller: Operator, request: Request) -> list[Bill]:
    """Generate a provider's monthly basic-incentive and/or quarterly performance bills, per tax rate
    (operator)."""
    return await settlement.generate_bills(deps(request), provider_id, body.month, body.quarter)


@router.get("/providers/{provider_id}/statement")
async def statement(provider_id: PathId, caller: ProviderOrOperator, request: Request) -> dict[str, Any]:
    """The provider's statement: its bills, their invoices, and what is billed and unbilled (that provider,
    operators)."""
    return await reads.statement(queries(request), caller, provider_id)


class InvoiceIn(BaseModel):
    invoice_no: str = Field(min_length=1, max_length=64)
    amount: Amount


@router.post("/providers/{provider_id}/bills/{bill_id}/invoice")
async def invoice(
    provider_id: PathId, bill_id: PathId, body: InvoiceIn, caller: ProviderCaller, request: Request
) -> Bill:
    """Record the provider's invoice for one of its bills (§7.6)."""
    return await settlement.invoice(deps(request), caller, provider_id, bill_id, body.invoice_no, body.amount)


@router.post("/providers/{provider_id}/bills/{bill_id}/send")
async def send_bill(provider_id: PathId, bill_id: PathId, operator: Operator, request: Request) -> Bill:
    """Send a reviewed bill to its provider (operators only, §7.6); the provider is told."""
    return await settlement.move_bill(deps(request), operator, provider_id, bill_id, "sent")


@router.post("/providers/{provider_id}/bills/{bill_id}/paid")
async def bill_paid(provider_id: PathId, bill_id: PathId, operator: Operator, request: Request) -> Bill:
    """Record a sent bill as paid (operators only, §7.6); the provider is told."""
    return await settlement.move_bill(deps(request), operator, provider_id, bill_id, "paid")
