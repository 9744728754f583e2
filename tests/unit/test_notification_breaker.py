"""The circuit breaker and failover in front of each channel's primary provider."""

from __future__ import annotations

import pytest

from services.notification.breaker import BreakerState, CircuitBreaker, Failover
from services.notification.channels import PermanentSendError, TransientSendError


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Provider:
    def __init__(self, name: str) -> None:
        self.name, self.failing, self.sent = name, False, []  # type: list[str]
        self.error: type[Exception] = TransientSendError

    async def send(self, msg: str) -> str:
        if self.failing:
            raise self.error(f"{self.name} down")
        self.sent.append(msg)
        return f"{self.name}-{len(self.sent)}"


def rig(secondary: bool = True) -> tuple[Failover[str], Provider, Provider, FakeClock]:
    clock, p, s = FakeClock(), Provider("p"), Provider("s")
    return Failover(p, s if secondary else None, CircuitBreaker(3, 30.0, clock)), p, s, clock


async def test_a_failing_primary_fails_over_at_once_and_opens_after_three() -> None:
    f, p, s, _ = rig()
    p.failing = True
    results = [await f.send(f"m{i}") for i in range(4)]
    assert [r.provider for r in results] == ["secondary"] * 4
    assert s.sent == ["m0", "m1", "m2", "m3"]
    assert f.breaker.state is BreakerState.OPEN
    assert f.breaker.consecutive == 3  # the fourth did not even try the primary


async def test_half_open_after_the_cooldown_then_closed_on_success() -> None:
    f, p, _, clock = rig()
    p.failing = True
    for i in range(3):
        await f.send(f"m{i}")
    p.failing = False
    clock.t = 10
    assert (await f.send("x")).provider == "secondary"  # still open
    clock.t = 31
    assert (await f.send("y")).provider == "primary"  # the probe
    assert f.breaker.state is BreakerState.CLOSED


async def test_a_failed_probe_opens_again() -> None:
    f, p, _, clock = rig()
    p.failing = True
    for i in range(3):
        await f.send(f"m{i}")
    clock.t = 31
    assert (await f.send("probe")).provider == "secondary"
    assert f.breaker.state is BreakerState.OPEN
    assert f.breaker.opened_at == 31


async def test_without_a_secondary_the_failure_is_transient_for_the_dispatcher() -> None:
    f, p, _, _ = rig(secondary=False)
    p.failing = True
    for _ in range(3):
        with pytest.raises(TransientSendError, match="p down"):
            await f.send("m")
    with pytest.raises(TransientSendError, match="circuit is open"):
        await f.send("m")


async def test_a_permanent_refusal_neither_counts_nor_fails_over() -> None:
    f, p, s, _ = rig()
    p.failing, p.error = True, PermanentSendError
    with pytest.raises(PermanentSendError):
        await f.send("bad address")
    assert s.sent == []
    assert f.breaker.consecutive == 0


async def test_a_permanent_refusal_of_the_probe_closes_the_breaker() -> None:
    """The provider answered the probe (it is up); it refused that one message. The next goes to the primary."""
    f, p, _, clock = rig()
    p.failing = True
    for i in range(3):
        await f.send(f"m{i}")
    clock.t = 31
    p.error = PermanentSendError
    with pytest.raises(PermanentSendError):
        await f.send("bad address")  # the probe
    assert f.breaker.state is BreakerState.CLOSED
    p.failing = False
    assert (await f.send("next")).provider == "primary"
    assert p.sent == ["next"]


async def test_a_permanent_refusal_of_the_probe_without_a_secondary_does_not_wedge() -> None:
    f, p, _, clock = rig(secondary=False)
    p.failing = True
    for _ in range(3):
        with pytest.raises(TransientSendError):
            await f.send("m")
    clock.t = 31
    p.error = PermanentSendError
    with pytest.raises(PermanentSendError):
        await f.send("bad address")
    p.failing = False
    clock.t = 1000  # long after: a wedged half-open breaker would still answer "circuit is half_open"
    assert (await f.send("next")).provider == "primary"


async def test_a_probe_that_never_answers_frees_the_half_open_slot() -> None:
    """The probe was cancelled (shutdown) or crashed: the next message may probe again."""
    f, p, _, clock = rig(secondary=False)
    p.failing = True
    for _ in range(3):
        with pytest.raises(TransientSendError):
            await f.send("m")
    clock.t = 31
    p.error = RuntimeError
    with pytest.raises(RuntimeError):
        await f.send("crash")
    assert f.breaker.state is BreakerState.HALF_OPEN
    p.failing = False
    assert (await f.send("next")).provider == "primary"
    assert f.breaker.state is BreakerState.CLOSED
