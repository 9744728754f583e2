"""What partner's repositories answer, written once: run on the in-memory unit of work by
tests/service/test_partner_store.py and on SecantusDB by tests/integration/test_partner_store.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from pymongo.errors import DuplicateKeyError

from services.partner.calls import MerchantCall, Sale
from services.partner.domain import LedgerEntry
from services.partner.programme import CustomerAssociation, ProductTerms
from services.partner.store import PartnerUnitOfWork
from shared.platform.mongo import UnitOfWorkFactory

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
T = TypeVar("T")
Run = Callable[[Callable[[PartnerUnitOfWork], Awaitable[T]]], Awaitable[T]]


def call(
    call_id: str, due: datetime | None, status: str = "pending", kind: str = "saas", buyer: str = "b1"
) -> MerchantCall:
    return MerchantCall(
        call_id=call_id,
        merchant_id="m1",
        endpoint="newInstance",
        kind=kind,  # type: ignore[arg-type]
        path="/p",
        body={},
        buyer_id=buyer,
        policy="long",
        status=status,  # type: ignore[arg-type]
        created_at=T0,
        due_at=due,
    )


def entry(entry_id: str, provider: str, at: datetime) -> LedgerEntry:
    return LedgerEntry(
        entry_id=entry_id,
        provider_id=provider,
        order_id=f"CS-{entry_id}",
        kind="commission",
        base=Decimal("100.00"),
        ratio=Decimal("0.1"),
        amount=Decimal("10.00"),
        currency="CNY",
        at=at,
    )


async def committed(
    uow: UnitOfWorkFactory[PartnerUnitOfWork], work: Callable[[PartnerUnitOfWork], Awaitable[Any]]
) -> Any:
    async def commit(u: PartnerUnitOfWork) -> Any:
        result = await work(u)
        await u.commit()
        return result

    return await uow.run(commit)


async def check_calls(uow: UnitOfWorkFactory[PartnerUnitOfWork]) -> None:
    async def add(u: PartnerUnitOfWork) -> None:
        for c in (
            call("late", T0 + timedelta(minutes=5)),
            call("first", T0 - timedelta(hours=1)),
            call("second", T0 - timedelta(minutes=1)),
            call("done", T0 - timedelta(hours=2), "succeeded"),
            call("kit", T0 - timedelta(minutes=30), kind="kit"),
            call("other", None, kind="kit", buyer="b2"),
        ):
            await u.calls.add(c)

    await committed(uow, add)

    async def due(u: PartnerUnitOfWork) -> list[list[str]]:
        return [
            await u.calls.due(T0, 10, frozenset()),
            await u.calls.due(T0, 2, frozenset()),
            await u.calls.due(T0, 10, frozenset({"kit", "nothing"})),
        ]

    assert await uow.run(due) == [["first", "kit", "second"], ["first", "kit"], ["first", "second"]]

    async def kit(u: PartnerUnitOfWork) -> list[str]:
        return [c.call_id for c in await u.calls.kit_calls_of("b1")]

    assert await uow.run(kit) == ["kit"]


async def check_ledger(uow: UnitOfWorkFactory[PartnerUnitOfWork]) -> None:
    async def add(u: PartnerUnitOfWork) -> None:
        for e in (entry("e2", "P1", T0 + timedelta(days=1)), entry("e1", "P1", T0), entry("e3", "P2", T0)):
            await u.ledger.add(e)
        await u.ledger.mark_billed(["e1", "e3"], "B1")

    await committed(uow, add)

    async def read(u: PartnerUnitOfWork) -> tuple[list[tuple[str, str | None]], list[str]]:
        return [(e.entry_id, e.bill_id) for e in await u.ledger.of("P1")], await u.ledger.providers()

    assert await uow.run(read) == ([("e1", "B1"), ("e2", None)], ["P1", "P2"])

    async def again(u: PartnerUnitOfWork) -> None:
        await u.ledger.add(entry("e1", "P1", T0))

    with pytest.raises(DuplicateKeyError):  # an entry is booked once: a second one is refused, not rerun
        await committed(uow, again)


async def check_records(uow: UnitOfWorkFactory[PartnerUnitOfWork]) -> None:
    async def first(u: PartnerUnitOfWork) -> None:
        await u.customers.replace(CustomerAssociation(customer_id="C1", reseller_id="R1"))
        await u.terms.replace(ProductTerms(product_id="p1", merchant_id="m1", share_ratio=Decimal("0.1")))
        await u.sales.add(
            Sale(
                order_id="CS0",
                buyer_id="b1",
                merchant_id="m1",
                product_id="p1",
                delivery_type="saas_instant",
                sale_mode="general",
                instance_id="i-0",
            )
        )
        await u.paid_orders.remember("CS0", T0)

    await committed(uow, first)

    async def second(u: PartnerUnitOfWork) -> tuple[Any, ...]:
        await u.customers.replace(CustomerAssociation(customer_id="C1", reseller_id="R2"))  # whatever version
        await u.paid_orders.remember("CS0", T0 + timedelta(days=1))  # remembered once
        renewal = Sale(
            order_id="CS1",
            buyer_id="b1",
            merchant_id="m1",
            product_id="p1",
            delivery_type="saas_instant",
            sale_mode="general",
            original_order_id="CS0",
        )
        new = await u.orders.of("CS9")
        return (
            [t.product_id for t in await u.terms.of(["p2", "p1"])],
            (await u.sales.root(renewal)).instance_id,
            new.order_id,
            await u.orders.get("CS9") is not None,
        )

    assert await committed(uow, second) == (["p1"], "i-0", "CS9", True)

    async def read(u: PartnerUnitOfWork) -> tuple[Any, ...]:
        customer, paid = await u.customers.get("C1"), await u.paid_orders.get("CS0")
        assert customer is not None
        assert paid is not None
        return customer.reseller_id, customer.version, paid.paid_at

    assert await uow.run(read) == ("R2", 1, T0)


async def check_bill_runs(uow: UnitOfWorkFactory[PartnerUnitOfWork]) -> None:
    async def record(u: PartnerUnitOfWork) -> None:
        await u.bill_runs.record("basic:202610", 3, T0)
        await u.bill_runs.record("basic:202610", 5, T0 + timedelta(hours=1))  # a second replica: no change

    await committed(uow, record)

    async def read(u: PartnerUnitOfWork) -> tuple[set[str], Any]:
        run = await u.bill_runs.get("basic:202610")
        return await u.bill_runs.done(["basic:202610", "performance:2026Q3"]), run and run.providers

    assert await uow.run(read) == ({"basic:202610"}, 3)


CHECKS = [check_calls, check_ledger, check_records, check_bill_runs]
