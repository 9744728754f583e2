"""Which failures are worth retrying, and how long the consumer waits between attempts."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, ValidationError

from services.orders.settings import OrdersSettings
from services.supervision.domain import Frozen
from shared.platform.deadletter import DeadLetterPolicy, is_permanent
from shared.platform.errors import DomainError, Forbidden, InvalidInput, NotFound, PermanentError
from shared.platform.repository import ConcurrentUpdate


class _Model(BaseModel):
    n: int


def validation_error() -> ValidationError:
    try:
        _Model.model_validate({"n": "x"})
    except ValidationError as exc:
        return exc
    raise AssertionError("expected a validation error")


def json_error() -> json.JSONDecodeError:
    try:
        json.loads("{nope")
    except json.JSONDecodeError as exc:
        return exc
    raise AssertionError("expected a decode error")


@pytest.mark.parametrize("exc", [
    validation_error(), json_error(), PermanentError("no template"), DomainError("refused"), NotFound("gone"),
    Forbidden("not yours"), InvalidInput("bad"), Frozen("appeal open"),
], ids=type)
def test_permanent_failures_are_not_retried(exc: BaseException) -> None:
    assert is_permanent(exc)


@pytest.mark.parametrize("exc", [
    ConcurrentUpdate("lost a race"), RuntimeError("boom"), TimeoutError(), ConnectionError("reset"),
], ids=type)
def test_transient_failures_are_retried(exc: BaseException) -> None:
    assert not is_permanent(exc)


def policy(**overrides: float) -> DeadLetterPolicy:
    return DeadLetterPolicy(OrdersSettings(kafka_bootstrap_servers="localhost:9092", mongodb_uri="mongodb://x",
                                           **overrides))


@pytest.mark.parametrize(("attempt", "low", "high"), [
    (1, 0.1, 0.2), (2, 0.2, 0.4), (3, 0.4, 0.8), (5, 1.6, 3.2), (6, 2.5, 5.0), (20, 2.5, 5.0),
])
def test_backoff_doubles_with_jitter_and_is_capped(attempt: int, low: float, high: float) -> None:
    p = policy(consumer_backoff_seconds=0.2, consumer_backoff_max_seconds=5.0)
    waits = [p.backoff(attempt) for _ in range(300)]
    assert all(low <= w <= high for w in waits)
    assert len(set(waits)) > 1


async def test_dead_lettering_without_a_broker_fails_loudly() -> None:
    p = policy()
    with pytest.raises(RuntimeError, match="no broker"):
        await p.publish(object(), RuntimeError("x"), 1)
    assert p.dead_lettered == 0
