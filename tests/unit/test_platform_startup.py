"""A replica started while the broker or the database is away waits for it (a chaos run once restarted a
notification replica during a broker restart: it exited at once with "Unable to bootstrap" and stayed down)."""

from __future__ import annotations

import pytest
from aiokafka.errors import KafkaConnectionError
from faststream.kafka import KafkaBroker

from devstack.procs import free_port
from shared.platform.errors import PermanentError
from shared.platform.runtime import patiently


async def test_a_step_failing_while_its_dependency_is_away_is_retried_until_it_works() -> None:
    calls = 0

    async def connect() -> None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 9092)]")

    await patiently("the broker", connect, within=30)
    assert calls == 3


async def test_a_permanent_failure_fails_the_start_at_once() -> None:
    calls = 0

    async def connect() -> None:
        nonlocal calls
        calls += 1
        raise PermanentError("bad credentials")

    with pytest.raises(PermanentError):
        await patiently("the broker", connect, within=30)
    assert calls == 1


async def test_a_broker_that_never_comes_fails_the_start_after_the_bound() -> None:
    """The real client against a closed port: its error counts as the broker being away, retried, then raised."""
    broker = KafkaBroker(f"127.0.0.1:{free_port()}")
    attempts = 0

    async def connect() -> None:
        nonlocal attempts
        attempts += 1
        await broker.connect()

    with pytest.raises(KafkaConnectionError):
        await patiently("the broker", connect, within=1.5)
    assert attempts >= 2
