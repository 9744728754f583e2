"""Measurements 1 and 2: acceptance → order completed, and order.paid → in-site message."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bench.api import EVIDENCE, Api, BenchError, Party
from bench.memory import cpu_share
from bench.stats import summary_ms

ORDER_POLL = 0.005  # seconds between GET /orders/{id} while waiting for completion
INBOX_POLL = 0.010  # the inbox query is three database round trips; poll it a little less eagerly
TIMEOUT = 60.0


@dataclass(frozen=True)
class Prepared:
    order_id: str
    so_id: str


async def bounded(limit: int, coros: list[Any]) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(coro: Any) -> Any:
        async with gate:
            return await coro

    return list(await asyncio.gather(*(one(c) for c in coros)))


async def prepare(api: Api, buyer: Party, merchant: Party, n: int, concurrency: int = 6) -> list[Prepared]:
    """N orders walked to the node just before acceptance: placed, paid, submitted, confirmed, delivered."""

    async def one() -> Prepared:
        order_id = await api.place(buyer, merchant)
        await api.pay(buyer, order_id)
        so_id = await api.service_order(buyer, order_id)
        await api.act(so_id, buyer, "submit")
        await api.act(so_id, merchant, "confirm")
        await api.act(so_id, merchant, "deliver", EVIDENCE)
        return Prepared(order_id, so_id)

    return await bounded(concurrency, [one() for _ in range(n)])


async def accept_until_completed(
    api: Api, buyer: Party, p: Prepared, gate: asyncio.Semaphore | None = None
) -> tuple[float, float]:
    """(seconds from t0 to status completed, seconds the accept POST itself took)."""
    t0 = time.perf_counter()
    await api.act(p.so_id, buyer, "accept")
    posted = time.perf_counter() - t0
    while True:
        if gate is None:
            status = await api.order_status(buyer, p.order_id)
        else:
            async with gate:
                status = await api.order_status(buyer, p.order_id)
        elapsed = time.perf_counter() - t0
        if status == "completed":
            return elapsed, posted
        if elapsed > TIMEOUT:
            raise BenchError(f"order {p.order_id} not completed {TIMEOUT:.0f}s after acceptance")
        await asyncio.sleep(ORDER_POLL)


async def acceptance(api: Api, orders: int, log: Any, cpu: Callable[[], dict[str, float]]) -> dict[str, Any]:
    buyer, merchant = await api.pair()
    t = time.perf_counter()
    prepared = await prepare(api, buyer, merchant, orders)
    log(f"  prepared {orders} orders at the acceptance node in {time.perf_counter() - t:.1f}s")
    waited = await api.quiesce([buyer, merchant])
    log(f"  notification backlog drained in {waited:.1f}s")
    half = max(1, orders // 2)
    sequential, burst = prepared[:half], prepared[half:]
    seq = [await accept_until_completed(api, buyer, p) for p in sequential]
    log(f"  sequential: {len(seq)} accepted")
    await api.quiesce([buyer, merchant])
    gate = asyncio.Semaphore(8)  # at most 8 status polls in flight: the pollers must not starve the services
    cpu0, t = cpu(), time.perf_counter()
    bur = list(await asyncio.gather(*(accept_until_completed(api, buyer, p, gate) for p in burst)))
    wall = time.perf_counter() - t
    cores = cpu_share(cpu0, cpu(), wall)
    log(f"  burst: {len(bur)} accepted at once, all completed after {wall:.2f}s")
    return {
        "sequential": summary_ms([s for s, _ in seq]),
        "sequential_accept_post": summary_ms([p for _, p in seq]),
        "burst": {**summary_ms([s for s, _ in bur]), "wall_s": round(wall, 3), "cpu_cores": cores},
        "burst_accept_post": summary_ms([p for _, p in bur]),
        "poll_interval_ms": ORDER_POLL * 1000,
        "burst_poll_concurrency": 8,
    }


async def inbox_latency(api: Api, orders: int, log: Any) -> dict[str, Any]:
    """Time from POST /pay returning to the buyer's inbox showing "Payment received for order <id>"."""
    buyer, merchant = await api.pair()
    order_ids = await bounded(6, [api.place(buyer, merchant) for _ in range(orders)])
    polled: list[float] = []
    stamped: list[float] = []
    for order_id in order_ids:
        await api.pay(buyer, order_id)
        t0, wall0 = time.perf_counter(), time.time()
        title = f"Payment received for order {order_id}"
        while True:
            items = await api.inbox(buyer)
            hit = next((m for m in items if m["title"] == title), None)
            elapsed = time.perf_counter() - t0
            if hit is not None:
                polled.append(elapsed)
                stamped.append(datetime.fromisoformat(hit["created_at"]).timestamp() - wall0)
                break
            if elapsed > TIMEOUT:
                raise BenchError(f"no in-site message for {order_id} {TIMEOUT:.0f}s after payment")
            await asyncio.sleep(INBOX_POLL)
    log(f"  {orders} payments, each waited for in the inbox")
    await api.quiesce([buyer, merchant])
    return {
        "polled": summary_ms(polled),
        "server_stamped": summary_ms([max(0.0, s) for s in stamped]),
        "poll_interval_ms": INBOX_POLL * 1000,
    }
