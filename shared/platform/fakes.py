"""In-memory unit of work for unit and service tests of one handler (never for integration tests)."""

from __future__ import annotations

import copy
from typing import Any, Self

from shared.platform.collection import Collection, MemoryCollection, MemoryCollections
from shared.platform.mongo import UnitOfWork
from shared.schemas import Event


class FakeState:
    """Everything a fake unit of work commits to; tests read it back."""

    def __init__(self) -> None:
        self.processed: set[str] = set()
        self.outbox: list[Event] = []
        self.tables: dict[str, dict[str, Any]] = {}

    def table(self, name: str) -> dict[str, Any]:
        return self.tables.setdefault(name, {})

    def collections(self) -> MemoryCollections:
        """The committed tables, for a read side (queries.py) in tests."""
        return MemoryCollections(self.table)


class FakeUnitOfWork(UnitOfWork):
    """Stages writes and applies them on commit, like a transaction would."""

    def __init__(self, state: FakeState) -> None:
        super().__init__()
        self.state = state
        self._claims: set[str] = set()
        self._staged: dict[str, dict[str, Any]] = {}

    async def __aenter__(self) -> Self:
        self._staged = {name: copy.deepcopy(rows) for name, rows in self.state.tables.items()}
        self.bind()
        return self

    def table(self, name: str) -> dict[str, Any]:
        return self._staged.setdefault(name, {})

    def collection(self, name: str) -> Collection:
        return MemoryCollection(self.table(name))

    async def claim(self, consumer: str, event: Event) -> bool:
        key = f"{consumer}:{event.event_id}"
        if key in self.state.processed or key in self._claims:
            self.found_claimed(consumer)
            return False
        self._claims.add(key)
        return True

    async def unclaimed(self, consumer: str, events: list[Event]) -> set[str]:
        done = self.state.processed | self._claims
        unclaimed = {str(e.event_id) for e in events if f"{consumer}:{e.event_id}" not in done}
        self.found_claimed(consumer, len(events) - len(unclaimed))
        return unclaimed

    async def commit(self) -> None:
        self.state.tables = self._staged
        self.state.processed |= self._claims
        self.state.outbox.extend(self.pending)
        self.committed = True
