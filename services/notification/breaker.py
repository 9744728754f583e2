"""Provider failover: a small circuit breaker in front of each channel's primary provider.

Closed: every message tries the primary; a transient failure there is retried at once on the secondary (when
one is configured), so a message is never held back by a primary that is down. After `failures` consecutive
transient failures the breaker opens: messages go straight to the secondary for `cooldown` seconds. Then it
half-opens: one message probes the primary; success closes the breaker, failure opens it again. A permanent
refusal (bad address) is neither counted nor failed over. It does say one thing: the provider is up and
answering. So a probe refused for good closes the breaker like a success (the message itself is refused); a
probe that never answers (cancelled at shutdown, an unexpected error) frees the half-open slot, so the next
message probes; otherwise the breaker would stay half-open, its one probe taken, for good. With no secondary,
an open breaker fails fast (transient), and the dispatcher's backoff takes over.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from services.notification.channels import PermanentSendError, SendError, TransientSendError

M = TypeVar("M", contravariant=True)
M2 = TypeVar("M2")


class CircuitOpen(TransientSendError):
    """Not an attempt: the primary is known to be down and there is no secondary; come back at `retry_in`."""

    def __init__(self, message: str, retry_in: float) -> None:
        super().__init__(message)
        self.retry_in = retry_in


class Sender(Protocol[M]):
    async def send(self, msg: M) -> str: ...


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class CircuitBreaker:
    failures: int
    cooldown: float
    clock: Callable[[], float] = time.monotonic
    state: BreakerState = BreakerState.CLOSED
    consecutive: int = 0
    opened_at: float = field(default=0.0)
    _probing: bool = False

    def allow(self) -> bool:
        """May this message try the primary?"""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN and self.clock() - self.opened_at >= self.cooldown:
            self.state, self._probing = BreakerState.HALF_OPEN, False
        if self.state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True  # exactly one probe at a time
            return True
        return False

    def retry_in(self) -> float:
        """Seconds until the next probe may go (at least a little, so waiting messages spread out)."""
        return max(0.05, self.cooldown - (self.clock() - self.opened_at))

    def success(self) -> None:
        self.state, self.consecutive, self._probing = BreakerState.CLOSED, 0, False

    def refused(self) -> None:
        """The primary answered with a permanent refusal: it is up. A half-open breaker closes; a closed one
        is left as it is (the refusal is about the message, not a sign of recovery worth resetting the
        count)."""
        if self.state is BreakerState.HALF_OPEN:
            self.success()

    def unanswered(self) -> None:
        """The try ended without an answer (cancelled, or an unexpected error): a probe frees its slot."""
        self._probing = False

    def failure(self) -> None:
        self.consecutive += 1
        if self.state is BreakerState.HALF_OPEN or self.consecutive >= self.failures:
            self.state, self.opened_at, self._probing = BreakerState.OPEN, self.clock(), False


@dataclass(frozen=True)
class Sent:
    ref: str
    provider: str  # "primary" / "secondary"


class Failover(Generic[M2]):
    def __init__(self, primary: Sender[M2], secondary: Sender[M2] | None, breaker: CircuitBreaker) -> None:
        self.primary, self.secondary, self.breaker = primary, secondary, breaker

    async def send(self, msg: M2) -> Sent:
        if self.breaker.allow():
            try:
                ref = await self.primary.send(msg)
            except TransientSendError:
                self.breaker.failure()
                if self.secondary is None:
                    raise
            except PermanentSendError:
                self.breaker.refused()
                raise
            except BaseException:
                self.breaker.unanswered()
                raise
            else:
                self.breaker.success()
                return Sent(ref, "primary")
        if self.secondary is None:
            raise CircuitOpen(
                f"primary provider's circuit is {self.breaker.state.value} and no secondary "
                "provider is configured",
                self.breaker.retry_in(),
            )
        try:
            return Sent(await self.secondary.send(msg), "secondary")
        except SendError as exc:
            exc.provider = "secondary"
            raise
