"""Which failures are worth retrying, and how long the consumer waits between attempts."""

from __future__ import annotations

import json

import pytest
from aiokafka.errors import KafkaConnectionError
from pydantic import BaseModel, ValidationError
from pymongo.errors import AutoReconnect, NetworkTimeout, ServerSelectionTimeoutError

from services.orders.settings import OrdersSettings
from services.supervision.service_order import Frozen
from shared.platform.deadletter import DeadLetterPolicy, HandBack, is_permanent, is_transient
from shared.platform.errors import DomainError, Forbidden, InvalidInput, NotFound, NotYetKnown, PermanentError
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


@pytest.mark.parametrize(
    "exc",
    [
        validation_error(),
        json_error(),
        PermanentError("no template"),
        DomainError("refused"),
        NotFound("gone"),
        Forbidden("not yours"),
        InvalidInput("bad"),
        Frozen("appeal open"),
    ],
    ids=type,
)
def test_permanent_failures_are_not_retried(exc: BaseException) -> None:
    assert is_permanent(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ConcurrentUpdate("lost a race"),
        RuntimeError("boom"),
        TimeoutError(),
        ConnectionError("reset"),
    ],
    ids=type,
)
def test_transient_failures_are_retried(exc: BaseException) -> None:
    assert not is_permanent(exc)


def policy(**overrides: float) -> DeadLetterPolicy:
    return DeadLetterPolicy(
        OrdersSettings(kafka_bootstrap_servers="localhost:9092", mongodb_uri="mongodb://x", **overrides)
    )


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [
        (1, 0.1, 0.2),
        (2, 0.2, 0.4),
        (3, 0.4, 0.8),
        (5, 1.6, 3.2),
        (6, 2.5, 5.0),
        (20, 2.5, 5.0),
    ],
)
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


# --- what the consumer does with each kind of failure ----------------------------------------------------------


class _Record:
    topic, partition, offset, key, value, headers = "acceptance.done", 0, 7, b"k", b"{}", []


class _Msg:
    raw_message = _Record()


class _Parking:
    def __init__(self) -> None:
        self.parked: list[tuple[object, NotYetKnown, str]] = []

    async def park(self, record: object, exc: NotYetKnown, group: str) -> None:
        self.parked.append((record, exc, group))


def _rigged(
    failures: list[BaseException],
) -> tuple[DeadLetterPolicy, list[tuple[object, BaseException]], object]:
    p = policy(consumer_backoff_seconds=0.001, consumer_backoff_max_seconds=0.002, consumer_max_attempts=3)
    letters: list[tuple[object, BaseException]] = []

    async def publish(record: object, exc: BaseException, attempts: int) -> None:
        letters.append((record, exc))

    p.publish = publish  # type: ignore[method-assign]
    middleware = p.middleware(_Msg(), context=None)
    calls = iter(failures)

    async def handler(msg: object) -> str:
        failure = next(calls, None)
        if failure is not None:
            raise failure
        return "handled"

    return p, letters, (middleware, handler)


@pytest.mark.parametrize(
    "outage",
    [
        ServerSelectionTimeoutError("no primary"),
        AutoReconnect("reset"),
        KafkaConnectionError(),
        ConcurrentUpdate("lost a race"),
    ],
    ids=type,
)
async def test_an_outage_is_waited_out_and_never_dead_lettered(outage: BaseException) -> None:
    _p, letters, (middleware, handler) = _rigged([outage] * 6)  # more failures than the attempt bound
    assert await middleware.consume_scope(handler, _Msg()) == "handled"
    assert letters == []


async def test_a_long_outage_hands_the_record_back_uncommitted_instead_of_dead_lettering_it() -> None:
    p, letters, (middleware, handler) = _rigged([ServerSelectionTimeoutError("down")] * 10_000)
    p.transient_window = 0.05
    with pytest.raises(HandBack):  # the subscriber does not commit (NACK_ON_ERROR): the record comes again
        await middleware.consume_scope(handler, _Msg())
    assert letters == []


async def test_an_event_about_something_not_seen_yet_is_parked_not_dead_lettered() -> None:
    p, letters, (middleware, handler) = _rigged([NotYetKnown("CS1", "order CS1 is not known yet")])
    p.parking = parking = _Parking()
    assert await middleware.consume_scope(handler, _Msg()) is None
    assert letters == []
    [(_record, exc, group)] = parking.parked
    assert (exc.aggregate, group) == ("CS1", "orders.acceptance.done")


async def test_poison_is_dead_lettered_at_once_and_a_bug_after_the_attempts() -> None:
    _, letters, (middleware, handler) = _rigged([InvalidInput("refused for good")])
    assert await middleware.consume_scope(handler, _Msg()) is None
    assert [type(e) for _, e in letters] == [InvalidInput]
    _, letters, (middleware, handler) = _rigged([RuntimeError("bug")] * 3)
    assert await middleware.consume_scope(handler, _Msg()) is None
    assert [type(e) for _, e in letters] == [RuntimeError]


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (ServerSelectionTimeoutError("x"), True),
        (NetworkTimeout("x"), True),
        (ConcurrentUpdate("x"), True),
        (KafkaConnectionError(), True),
        (InvalidInput("x"), False),
        (RuntimeError("x"), False),
        (NotYetKnown("a", "b"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_what_counts_as_transient(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient
