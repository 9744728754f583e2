"""Write conflicts are waited out: a killed replica's open transaction holds its writes until it is reaped."""

from __future__ import annotations

import pytest
from pymongo.errors import OperationFailure

from shared.platform.fakes import FakeState, FakeUnitOfWork
from shared.platform.mongo import UnitOfWorkFactory


def conflict() -> OperationFailure:
    return OperationFailure("WriteConflict", code=112, details={"errorLabels": ["TransientTransactionError"]})


def failing(times: int, error: OperationFailure) -> tuple[list[int], object]:
    calls: list[int] = []

    async def work(uow: FakeUnitOfWork) -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "done"

    return calls, work


async def test_conflicts_are_rerun_with_backoff_within_the_patience() -> None:
    calls, work = failing(6, conflict())
    factory = UnitOfWorkFactory(lambda: FakeUnitOfWork(FakeState()), patience=30)
    assert await factory.run(work) == "done"  # type: ignore[arg-type]
    assert len(calls) == 7


async def test_a_non_transient_error_is_raised_at_once() -> None:
    calls, work = failing(1, OperationFailure("bad", code=2))
    with pytest.raises(OperationFailure, match="bad"):
        await UnitOfWorkFactory(lambda: FakeUnitOfWork(FakeState())).run(work)  # type: ignore[arg-type]
    assert len(calls) == 1


async def test_patience_is_bounded() -> None:
    calls, work = failing(10**6, conflict())
    with pytest.raises(OperationFailure, match="WriteConflict"):
        await UnitOfWorkFactory(lambda: FakeUnitOfWork(FakeState()), patience=0.0).run(work)  # type: ignore[arg-type]
    assert len(calls) == 1


def test_the_default_patience_outlasts_the_transaction_lifetime() -> None:
    assert UnitOfWorkFactory(lambda: FakeUnitOfWork(FakeState()))._patience > 60
