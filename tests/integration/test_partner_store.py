"""partner's repositories on SecantusDB, in the real unit of work's transactions: they answer as on memory
(the same checks as tests/service/test_partner_store.py), and the read side reads what they committed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from pymongo import AsyncMongoClient

from services.partner.queries import PartnerQueries
from services.partner.store import PartnerUnitOfWork, mongo_uow
from shared.platform.collection import MongoCollections
from shared.platform.mongo import Doc, UnitOfWorkFactory, connect
from tests.conftest import Infra
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
