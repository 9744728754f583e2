"""partner's repositories on SecantusDB, in the real unit of work's transactions: they answer as on memory
(the same checks as tests/service/test_partner_store.py), and the read side reads what they committed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from pymongo import AsyncMongoClient

from services.partner.queries import PartnerQueries
from services.partner.services import PartnerService
from services.partner.store import PartnerUnitOfWork, mongo_uow
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
