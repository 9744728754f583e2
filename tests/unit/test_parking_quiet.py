"""`MongoParking.arrived` while nothing is parked: after a look that found no parked event at all it writes
nothing for QUIET_SECONDS, and a park (or the quiet's end) makes arrivals told again. The parking on the real
database is covered by tests/integration/test_supervision_parking.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from shared.platform.errors import NotYetKnown
from shared.platform.parking import QUIET_SECONDS, MongoParking
from tests.unit.test_deadletter import policy

pytestmark = pytest.mark.unit


@dataclass
class Parked:
    """The parked-events collection, as far as `park` and `arrived` use it."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    async def update_one(self, query: dict[str, Any], update: dict[str, Any], upsert: bool) -> None:
        self.calls.append("update_one")
        self.rows.setdefault(query["_id"], dict(update["$setOnInsert"]))

    async def update_many(self, query: dict[str, Any], update: dict[str, Any]) -> SimpleNamespace:
        self.calls.append("update_many")
        wanted = query["aggregate"]
        names = set(wanted["$in"]) if isinstance(wanted, dict) else {wanted}
        hit = [r for r in self.rows.values() if r["aggregate"] in names]
        return SimpleNamespace(modified_count=len(hit))

    async def find_one(self, query: dict[str, Any], projection: dict[str, Any]) -> dict[str, Any] | None:
        self.calls.append("find_one")
        return next(iter(self.rows.values()), None)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def parking() -> tuple[MongoParking, Parked, Clock]:
    clock, col = Clock(), Parked()
    p = MongoParking({"parked_events": col}, policy(), 86400, clock=clock)  # type: ignore[arg-type]
    return p, col, clock


def record(offset: int) -> SimpleNamespace:
    return SimpleNamespace(
        topic="t.refund.decided", partition=0, offset=offset, key=b"CS1", value=b"{}", headers=[]
    )


async def test_with_nothing_parked_arrivals_write_nothing_for_a_moment() -> None:
    p, col, clock = parking()
    await p.arrived("CS1")
    assert col.calls == ["update_many", "find_one"]  # told, then looked: nothing parked at all
    await p.arrived("CS2")
    await p.arrived("CS3", "CS4")
    assert col.calls == ["update_many", "find_one"]
    clock.now += QUIET_SECONDS
    await p.arrived("CS5")
    assert col.calls[2:] == ["update_many", "find_one"]  # the quiet is over: told and looked again


async def test_a_park_ends_the_quiet_and_the_arrival_wakes_the_worker() -> None:
    p, col, _ = parking()
    woken: list[int] = []
    p.on_parked.append(lambda: woken.append(1))
    await p.arrived("CS0")
    await p.park(record(7), NotYetKnown("CS1", "service order SO-CS1 not yet known"), "g")
    woken.clear()
    await p.arrived("CS1")
    assert col.calls[-1] == "update_many"  # told at once, though the quiet had begun
    assert woken == [1]
    await p.arrived("CS9")  # another aggregate: told, and the look finds the parked event, so no quiet
    await p.arrived("CS9")
    assert col.calls[-4:] == ["update_many", "find_one", "update_many", "find_one"]
