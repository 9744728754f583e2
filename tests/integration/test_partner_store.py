"""partner's repositories on SecantusDB, in the real unit of work's transactions: they answer as on memory
(the same checks as tests/service/test_partner_store.py), and the read side reads what they committed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from pymongo import AsyncMongoClient

from services.partner import reads
from services.partner.programme import Demand, Offer, ProductTerms
from services.partner.queries import PartnerQueries
from services.partner.services import PartnerService
from services.partner.store import PartnerUnitOfWork, ensure_indexes, mongo_uow
from shared.platform.auth import Principal
from shared.platform.collection import MongoCollections
from shared.platform.mongo import Doc, UnitOfWorkFactory, connect
from tests.conftest import Infra
from tests.factories import acceptance_done, order_paid, parties, rid
from tests.service.partner_store_checks import CHECKS, T0, entry

Store = tuple[UnitOfWorkFactory[PartnerUnitOfWork], PartnerQueries]


@pytest.fixture
async def store(infra: Infra, namespace: str) -> AsyncIterator[Store]:
    client: AsyncMongoClient[Doc] = connect(infra.mongo_uri)
    db = client[f"{namespace}_partner"]
    yield (
        UnitOfWorkFactory(mongo_uow(client, db, lambda: None), attempts=3),
        PartnerQueries(MongoCollections(db)),
    )
    await client.close()


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
async def test_the_repositories_answer_in_domain_words_on_the_database(
    store: Store, check: Callable[[UnitOfWorkFactory[PartnerUnitOfWork]], Awaitable[None]]
) -> None:
    await check(store[0])


async def test_the_read_side_reads_what_was_committed(store: Store) -> None:
    uow, queries = store

    async def write(u: PartnerUnitOfWork) -> None:
        await u.ledger.add(entry("e1", "P1", T0))
        await u.commit()

    await uow.run(write)
    assert [e.entry_id for e in await queries.ledger("P1")] == ["e1"]
    assert await queries.bills("P1") == []


async def test_an_event_handled_before_is_a_no_op_alone_and_in_a_batch(store: Store) -> None:
    """A claiming event handled again (a redelivery, a parked event's retry) finds its claim taken. On the
    database that failed insert aborts the transaction, so nothing may be committed after it: the event is
    answered as handled before, at once, not rerun until the runner gives up."""
    uow, _ = store
    svc = PartnerService(uow, lambda: T0)
    p = parties(rid("prov"))
    paid = order_paid(p, amount="100.00", ratio="0.10")
    accepted = acceptance_done(p, paid.order_id)
    assert await svc.handle_all([paid]) != [[]]
    [first] = await svc.handle(accepted)
    assert first is not None  # the commission

    assert await svc.handle(accepted) == []  # alone: handled before
    assert await svc.handle_all([accepted, accepted]) == [[], []]  # in a batch


async def test_the_offer_and_demand_lists_page_each_partys_rows_on_the_database(
    store: Store, infra: Infra, namespace: str
) -> None:
    """Issue 15: the lists' indexes are accepted, and their queries (each party's alternatives, a product
    inside an offer's products, the keyset after a cursor) answer on the database as on memory."""
    client: AsyncMongoClient[Doc] = connect(infra.mongo_uri)
    await ensure_indexes(client[f"{namespace}_partner"])
    uow, queries = store
    provider, merchant = rid("prov"), rid("merchant")

    def offer(i: int, issuer: str, product: str, status: str) -> Offer:
        return Offer(
            offer_id=f"OF-{i}",
            name="n",
            issuer_id=issuer,
            provider_id=provider if issuer == provider else None,
            customer_account_id="c",
            product_ids=["p-other", product],
            discount=Decimal("0.1"),
            valid_from=T0,
            valid_until=T0 + timedelta(days=30),
            status=status,
            created_at=T0 + timedelta(minutes=i // 2),  # pairs share a time: the id breaks the tie
        )

    async def write(u: PartnerUnitOfWork) -> None:
        for i, (issuer, product, status) in enumerate(
            [
                (provider, "p1", "effective"),
                (provider, "p2", "manual_handling"),
                (merchant, "p1", "effective"),
                (provider, "p1", "manual_handling"),
                (rid("prov"), "p3", "manual_handling"),
            ]
        ):
            await u.offers.add(offer(i, issuer, product, status))
        await u.terms.replace(ProductTerms(product_id="p1", merchant_id=merchant, share_ratio=Decimal("0.1")))
        await u.demands.add(
            Demand(
                demand_id="DM-1",
                provider_id=provider,
                merchant_id=merchant,
                customer_account_id="c",
                product_id="p1",
                created_at=T0,
            )
        )
        await u.commit()

    await uow.run(write)
    # Two offers saved before offers had a creation time: no `created_at` in the document at all.
    for i in (8, 9):
        undated = {
            k: v for k, v in offer(i, provider, "p1", "effective").model_dump().items() if k != "created_at"
        }
        await client[f"{namespace}_partner"]["offers"].insert_one({"_id": undated["offer_id"], **undated})
    await client.close()

    async def walk(who: Principal, status: str | None = None, product: str | None = None) -> list[str]:
        seen: list[str] = []
        cursor = None
        while True:
            page = await reads.offers(queries, who, status, product, cursor, 2)
            seen += [o.offer_id for o in page.items]
            if (cursor := page.next_cursor) is None:
                return seen

    as_provider = Principal(provider, frozenset({"provider"}))
    as_merchant = Principal(merchant, frozenset({"merchant"}))
    operator = Principal(rid("op"), frozenset({"operator"}))
    # The undated come last, oldest of all, whatever page boundary falls before or among them.
    assert await walk(as_provider) == ["OF-3", "OF-1", "OF-0", "OF-9", "OF-8"]
    assert await walk(as_merchant) == ["OF-3", "OF-2", "OF-0", "OF-9", "OF-8"]  # its own, and those on p1
    assert await walk(operator, "manual_handling") == ["OF-4", "OF-3", "OF-1"]
    assert await walk(operator, None, "p1") == ["OF-3", "OF-2", "OF-0", "OF-9", "OF-8"]
    assert await walk(Principal(rid("prov"), frozenset({"provider"}))) == []
    demands = await reads.demands(queries, as_merchant, "submitted", None, 20)
    assert [d.demand_id for d in demands.items] == ["DM-1"]
