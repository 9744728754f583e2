"""partner's repositories on the in-memory unit of work: the query methods answer in the domain's words (the same
checks run on SecantusDB in tests/integration/test_partner_store.py), and the read side reads what they wrote."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from services.partner.queries import PartnerQueries
from services.partner.store import PartnerUnitOfWork, fake_uow
from shared.platform.fakes import FakeState
from shared.platform.mongo import UnitOfWorkFactory
from tests.service.partner_store_checks import CHECKS, T0, call, committed, entry


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
async def test_the_repositories_answer_in_domain_words(
    check: Callable[[UnitOfWorkFactory[PartnerUnitOfWork]], Awaitable[None]],
) -> None:
    await check(UnitOfWorkFactory(fake_uow(FakeState())))


async def test_the_read_side_reads_what_the_repositories_committed() -> None:
    state = FakeState()
    uow = UnitOfWorkFactory(fake_uow(state))

    async def write(u: PartnerUnitOfWork) -> Any:
        await u.ledger.add(entry("e1", "P1", T0))
        await u.calls.add(call("c1", T0))

    await committed(uow, write)
    queries = PartnerQueries(state.collections())
    assert [e.entry_id for e in await queries.ledger("P1")] == ["e1"]
    assert [c.call_id for c in await queries.calls("m1")] == ["c1"]
    assert await queries.provider("P1") is None
