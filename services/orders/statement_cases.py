"""Use cases of merchant settlement statements (rules: statements.py): the monthly production, the operators'
steps (send, paid) and the reads. Each step saves the statement and the merchant's notice together."""

from __future__ import annotations

from typing import Literal

from services.orders import statements
from services.orders.billing import Period
from services.orders.context import OrdersContext, change, correlation
from services.orders.statements import Statement, StatementRun
from services.orders.store import OrdersUnitOfWork
from shared.platform.auth import Principal, require_party
from shared.platform.errors import NotFound
from shared.schemas import Event

RUN = "statements:"


async def produce(ctx: OrdersContext, period: Period) -> list[Statement]:
    """The statements of `period`, one per merchant with eligible orders, each in review with its notice.
    Once: a merchant's statement that exists is not made again, and the month is recorded as run."""

    async def work(uow: OrdersUnitOfWork) -> list[Statement]:
        now, cid = ctx.clock(), correlation()
        orders = await uow.orders.placed_before(period.end, None)
        made = []
        for merchant in sorted({o.merchant_account_id for o in orders}):
            statement = statements.produce(merchant, period, orders, now)
            if statement is None or await uow.statements.get(statement.statement_id) is not None:
                continue
            await uow.statements.add(statement)
            uow.emit(statements.status_notice(statement, cid))
            made.append(statement)
        run_id = f"{RUN}{period}"
        if await uow.statement_runs.get(run_id) is None:
            await uow.statement_runs.add(StatementRun(run_id=run_id, merchants=len(made), at=now))
        await uow.commit()
        return made

    return await ctx.uow.run(work)


async def move(
    ctx: OrdersContext, operator: Principal, statement_id: str, to: Literal["sent", "paid"]
) -> Statement:
    """An operator sends the statement to its merchant, or records it paid; the merchant is told."""

    async def moved(_: OrdersUnitOfWork, statement: Statement) -> list[Event]:
        statements.move(statement, to, operator.account_id, ctx.clock())
        return [statements.status_notice(statement, correlation())]

    return await change(ctx, lambda uow: uow.statements, statement_id, "statement", moved)


async def read(ctx: OrdersContext, viewer: Principal, statement_id: str) -> Statement:
    """One statement: its merchant's, or any for operators."""
    async with ctx.uow() as uow:
        statement = await uow.statements.get(statement_id)
    if statement is None:
        raise NotFound(f"statement {statement_id} does not exist", field="statement_id")
    require_party(viewer, statement.merchant_account_id, what=f"statement {statement_id}", operators=True)
    return statement


async def listed(
    ctx: OrdersContext, viewer: Principal, period: str | None, state: str | None
) -> list[Statement]:
    """A merchant's own statements, or every merchant's for operators."""
    async with ctx.uow() as uow:
        return await uow.statements.listed(None if viewer.is_operator else viewer.account_id, period, state)
