"""HTTP routes of merchant settlement statements (dossier §4.3): the merchant reads its own, operators read
every one and move them review → sent → paid. Thin adapters onto statement_cases.py."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from services.orders import statement_cases
from services.orders.api import Ctx, OperatorOrMerchant
from services.orders.statements import Statement
from shared.platform.auth import Operator

router = APIRouter(tags=["statements"])
StatementId = Annotated[str, Path(min_length=1, max_length=160)]


@router.get("/statements")
async def list_statements(
    viewer: OperatorOrMerchant,
    ctx: Ctx,
    period: Annotated[str | None, Query(pattern=r"^20\d{2}-(0[1-9]|1[0-2])$", examples=["2026-10"])] = None,
    state: Literal["review", "sent", "paid"] | None = None,
) -> list[Statement]:
    """Settlement statements, newest month first (a merchant: its own; operators: every merchant's)."""
    return await statement_cases.listed(ctx, viewer, period, state)


@router.get("/statements/{statement_id}")
async def get_statement(statement_id: StatementId, viewer: OperatorOrMerchant, ctx: Ctx) -> Statement:
    """One statement with its lines and totals (its merchant, and operators)."""
    return await statement_cases.read(ctx, viewer, statement_id)


@router.post("/statements/{statement_id}/send")
async def send_statement(statement_id: StatementId, operator: Operator, ctx: Ctx) -> Statement:
    """Send a reviewed statement to its merchant (operators only); the merchant is told."""
    return await statement_cases.move(ctx, operator, statement_id, "sent")


@router.post("/statements/{statement_id}/paid")
async def statement_paid(statement_id: StatementId, operator: Operator, ctx: Ctx) -> Statement:
    """Record a sent statement as paid (operators only); the merchant is told."""
    return await statement_cases.move(ctx, operator, statement_id, "paid")
