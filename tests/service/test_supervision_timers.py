"""The timer worker's source over in-memory fakes: one due deadline per item, blocked ones left out, and a deadline
whose firing fails raises for its own item only (the shared leased worker records, backs off and quarantines it;
tests/integration/test_supervision_timers.py runs the whole worker on the real database)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.supervision.service_order import ServiceOrder
from services.supervision.store import running
from services.supervision.worker import TimerSource
from shared.platform.errors import NotFound
from shared.platform.worker import Blocked
from tests.service.supervision_env import Env, People


async def two_idle_deadlines_due(env: Env) -> tuple[str, str]:
    """Two service orders opened a minute apart; five days later both buyers' idle deadlines are due."""
    first = await env.open()
    env.clock.now += timedelta(minutes=1)
    second = await env.open()
    env.clock.now += timedelta(days=5, minutes=1)
    return f"SO-{first.order_id}", f"SO-{second.order_id}"


def idle_row(env: Env, so_id: str) -> str:
    [deadline_id] = [
        k
        for k, r in env.state.tables["timers"].items()
        if r["service_order_id"] == so_id and r["kind"] == "idle"
    ]
    return str(deadline_id)


async def test_the_source_lists_due_deadlines_earliest_first_and_leaves_blocked_ones_out() -> None:
    env = Env()
    first, second = await two_idle_deadlines_due(env)
    source = TimerSource(env.service)
    a, b = idle_row(env, first), idle_row(env, second)

    assert [source.key(r) for r in await source.due(env.clock.now, 100, Blocked())] == [a, b]
    assert [source.key(r) for r in await source.due(env.clock.now, 1, Blocked())] == [a]
    assert [
        source.key(r) for r in await source.due(env.clock.now, 100, Blocked(backing_off=frozenset({a})))
    ] == [b]
    assert [
        source.key(r) for r in await source.due(env.clock.now, 100, Blocked(quarantined=frozenset({b})))
    ] == [a]
    assert await source.due(env.clock.now - timedelta(days=1), 100, Blocked()) == []  # not due yet


async def test_a_deadline_whose_firing_fails_fails_alone_and_stays_due() -> None:
    env = Env()
    broken, fine = await two_idle_deadlines_due(env)
    del env.state.tables["service_orders"][broken]  # its firing can never succeed now
    source = TimerSource(env.service)
    rows = await source.due(env.clock.now, 100, Blocked())

    with pytest.raises(NotFound, match=broken):
        await source.process(rows[0])
    await source.process(rows[1])

    so = ServiceOrder.model_validate(env.state.tables["service_orders"][fine])
    assert so.timeline[-1].action == "idle_due"
    assert [source.key(r) for r in await source.due(env.clock.now, 100, Blocked())] == [source.key(rows[0])]
    await source.process(rows[1])  # firing it again changes nothing: the deadline is gone
    assert ServiceOrder.model_validate(env.state.tables["service_orders"][fine]).timeline == so.timeline


def _rows_match_running(env: Env, so_id: str) -> None:
    """`timers` holds exactly the service order's running deadlines, as stored."""
    so = ServiceOrder.model_validate(env.state.tables["service_orders"][so_id])
    rows = {k: r["due_at"] for k, r in env.state.tables["timers"].items() if r["service_order_id"] == so_id}
    assert rows == running(so)


async def test_each_step_leaves_the_timer_rows_equal_to_the_running_deadlines() -> None:
    """The rows are written as a diff of what the service order held when loaded (store.Timers.sync)."""
    env = Env()
    event = await env.open()
    who, so_id = People.of(event.payload.parties), f"SO-{event.order_id}"
    path = f"/service-orders/{so_id}"
    _rows_match_running(env, so_id)
    before = dict(env.state.tables["timers"])
    assert before  # the buyer's idle deadline, at least

    env.clock.now += timedelta(hours=1)
    await env.call("POST", f"{path}/actions/submit", who.buyer)
    _rows_match_running(env, so_id)
    assert env.state.tables["timers"] != before  # the step ended one deadline and started another
    await env.call("POST", f"{path}/actions/confirm", who.merchant)
    _rows_match_running(env, so_id)
    await env.call(
        "POST", f"{path}/appeals", who.buyer, expect=201, json={"reason": "not started", "demands": "start"}
    )
    _rows_match_running(env, so_id)  # an appeal pauses the running deadlines: their rows go
