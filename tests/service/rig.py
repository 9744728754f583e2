"""One service's subscribers on FastStream's in-memory TestKafkaBroker, with in-memory fakes behind them.

A `Rig` is a service's real broker (shared delivery policy + the service's `register`) plus a capture subscriber on
every dead-letter topic, so a test can publish an event and then assert on the fake state and on what was
dead-lettered, with which headers.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from faststream.kafka import KafkaBroker, KafkaMessage, TestKafkaBroker

from shared.platform.deadletter import DeadLetterPolicy
from shared.platform.fakes import FakeState
from shared.platform.kafka import make_broker
from shared.platform.settings import ServiceSettings
from shared.schemas import TOPICS, Event, dead_letter

# Tiny backoff so retry tests take milliseconds; three attempts keep "always fails" tests short.
FAST = {
    "kafka_bootstrap_servers": "localhost:9092",
    "mongodb_uri": "mongodb://x",
    "topic_namespace": "svc",
    "consumer_backoff_seconds": 0.001,
    "consumer_backoff_max_seconds": 0.005,
    "consumer_max_attempts": 3,
    # The in-memory broker hands a message to every subscriber of its topic, whatever their group: one
    # consumer per subscriber, as the group would have in effect for one record.
    "consumer_workers": 1,
}


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    key: bytes | None
    body: bytes
    headers: dict[str, str]


@dataclass(repr=False)  # a failing assert shows the state it compares, not the whole rig
class Rig:
    settings: ServiceSettings
    broker: KafkaBroker
    policy: DeadLetterPolicy
    state: FakeState
    service: Any
    dead: list[DeadLetter] = field(default_factory=list)
    client: KafkaBroker | None = None

    async def publish(self, event: Event) -> None:
        """As the outbox relay does: JSON body, keyed by the event's partition key."""
        await self.publish_raw(event.model_dump(mode="json"), event.topic, key=event.partition_key)

    async def publish_raw(self, body: Any, topic: str, *, key: str = "k") -> None:
        assert self.client is not None, "publish inside `async with rig.running()`"
        await self.client.publish(
            body,
            topic=self.settings.topic(topic),
            key=key.encode(),
            headers={"content-type": "application/json"},
        )

    async def publish_batch(self, *bodies: Any, topic: str) -> None:
        """Several records that a batch subscriber takes in one poll (JSON events, or raw bytes)."""
        assert self.client is not None, "publish inside `async with rig.running()`"
        await self.client.publish_batch(
            *(b.model_dump(mode="json") if isinstance(b, Event) else b for b in bodies),
            topic=self.settings.topic(topic),
            headers={"content-type": "application/json"},
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Rig]:
        async with TestKafkaBroker(self.broker) as client:
            self.client = client
            try:
                yield self
            finally:
                self.client = None


def _raw(msg: Any) -> Any:
    # A dead letter keeps the original content-type; decoding an unreadable body as JSON again would fail and
    # dead-letter the dead letter. The capture handler takes the bytes as they are.
    return msg.body


def make_rig(
    settings: ServiceSettings,
    register: Callable[[KafkaBroker, ServiceSettings], None],
    name: str,
    service: Callable[[FakeState], Any],
) -> Rig:
    broker, policy = make_broker(settings)
    register(broker, settings)
    state = FakeState()
    rig = Rig(settings, broker, policy, state, service(state))
    broker.context.set_global(name, rig.service)

    @broker.subscriber(*[dead_letter(settings.topic(t)) for t in TOPICS], decoder=_raw)
    async def capture_dead_letters(msg: KafkaMessage) -> None:
        raw = msg.raw_message
        rig.dead.append(DeadLetter(raw.topic, raw.key, msg.body, dict(msg.headers)))

    return rig


@dataclass
class Counter:
    calls: int = 0

    def __call__(self) -> None:
        self.calls += 1


def flaky(method: Callable[..., Any], failures: int) -> tuple[Callable[..., Any], list[int]]:
    """`method`, raising RuntimeError on its first `failures` calls (failures < 0: always); and its call log."""
    calls: list[int] = []

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if failures < 0 or len(calls) <= failures:
            raise RuntimeError(f"transient failure #{len(calls)}")
        return await method(*args, **kwargs)

    return wrapper, calls
