"""Acceptance → order completed (one at a time, then a burst), and pay → in-site message under a sustained
load.

Completion is observed on Kafka (bench/watch.py says why that is conservative and costs the orders service
nothing); the figures start when the bench sends the accept request. The in-site message is read as a
client of the inbox would: one waiting read per buyer (`GET .../inbox?wait=&seen=`, which answers once a
message newer than the one it has arrives), read again as soon as it answers. Its server stamp (`created_at`,
written in the transaction that planned it) is reported beside the observed figure.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bench.api import Api, BenchError, Party
from bench.memory import PeakRss, cpu_seconds, cpu_share
from bench.stats import summary_ms
from bench.watch import CompletionWatch

TIMEOUT = 60.0
INBOX_WAIT = 20.0  # seconds a waiting inbox read may be held (the service answers as soon as one arrives)
WINDOW_S = 10.0  # phase 4's latencies are also reported per this many seconds of its schedule
INBOX_LIMIT = 20  # messages per read (the API's default page): more than a buyer receives between reads
PAYMENT_TITLE = "Payment received for order "


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
        await api.act(so_id, merchant, "deliver", await api.suite.delivery(merchant.login, so_id))
        return Prepared(order_id, so_id)

    return await bounded(concurrency, [one() for _ in range(n)])


def _figures(
    starts: dict[str, float], posted: dict[str, float], watch: CompletionWatch, verified: set[str]
) -> dict[str, Any]:
    seen = {oid: watch.seen[oid] for oid in starts if oid in watch.seen}
    return {
        "n": len(starts),
        "completed": len(seen),
        "all_completed": len(seen) == len(starts) and set(starts) <= verified,
        "api_confirms_completed": len(set(starts) & verified),
        "observed": summary_ms([seen[o].wall - starts[o] for o in seen]),
        "server_stamped": summary_ms([max(0.0, seen[o].stamped - starts[o]) for o in seen]),
        "accept_post": summary_ms(list(posted.values())),
    }


async def _verified(api: Api, buyer: Party) -> set[str]:
    """The buyer's orders the orders API itself lists as completed (one request, after the measurement)."""
    rows = await api.call("GET", "orders", "/purchased-services", buyer, params={"status": "completed"})
    return {str(r["order_id"]) for r in rows}


async def _accept(api: Api, buyer: Party, p: Prepared, posted: dict[str, float]) -> None:
    t = time.time()
    await api.act(p.so_id, buyer, "accept")
    posted[p.order_id] = time.time() - t


async def acceptance(
    api: Api,
    watch: CompletionWatch,
    sequential: int,
    burst: int,
    log: Any,
    cpu: Callable[[], dict[str, float]],
) -> dict[str, Any]:
    buyer, merchant = await api.pair()
    t = time.perf_counter()
    prepared = await prepare(api, buyer, merchant, sequential + burst)
    log(f"  prepared {len(prepared)} orders at the acceptance node in {time.perf_counter() - t:.1f}s")
    log(f"  notification backlog drained in {await api.quiesce([buyer, merchant]):.1f}s")

    seq_start: dict[str, float] = {}
    seq_post: dict[str, float] = {}
    for p in prepared[:sequential]:
        seq_start[p.order_id] = time.time()
        await _accept(api, buyer, p, seq_post)
        if await watch.wait(p.order_id, TIMEOUT) is None:
            raise BenchError(f"order {p.order_id} not completed {TIMEOUT:.0f}s after acceptance")
    log(f"  sequential: {sequential} accepted one at a time")
    await api.quiesce([buyer, merchant])

    group = prepared[sequential:]
    burst_post: dict[str, float] = {}
    cpu0, t0 = cpu(), time.time()
    await asyncio.gather(*(_accept(api, buyer, p, burst_post) for p in group))
    # Every order of the burst is timed from the one moment the bench accepted them all.
    results = await asyncio.gather(*(watch.wait(p.order_id, TIMEOUT) for p in group))
    wall = time.time() - t0
    cores = cpu_share(cpu0, cpu(), wall)
    done = [s for s in results if s is not None]
    log(f"  burst: {len(group)} accepted at once, {len(done)} completed after {wall:.2f}s")
    verified = await _verified(api, buyer)
    burst_fig = _figures({p.order_id: t0 for p in group}, burst_post, watch, verified)
    last = max((s.stamped for s in done), default=t0)
    return {
        "sequential": _figures(seq_start, seq_post, watch, verified),
        "burst": {
            **burst_fig,
            "wall_s": round(wall, 3),
            # accept requests in → orders completed and published, end to end (supervision included)
            "completed_per_s": round(len(done) / max(last - t0, 1e-6), 1),
            "cpu_cores": cores,
        },
        "observation": "order.status_changed (completed) read from Kafka; verified in the orders API after",
    }


@dataclass
class _Buyer:
    party: Party
    pending: dict[str, float]  # order id -> time.time() its payment was sent
    found: dict[str, tuple[float, float]]  # order id -> (seen, created_at)


def _cores(a: tuple[float, dict[str, float]], b: tuple[float, dict[str, float]]) -> dict[str, float]:
    return cpu_share(a[1], b[1], b[0] - a[0])


async def _read_inbox(api: Api, b: _Buyer, stop: asyncio.Event) -> int:
    """One buyer's reader: a waiting read, again as soon as it answers, until `stop`; returns the reads."""
    reads, seen = 0, None
    stopped = asyncio.create_task(stop.wait())
    try:
        while not stop.is_set():
            read = asyncio.create_task(api.inbox(b.party, limit=INBOX_LIMIT, wait=INBOX_WAIT, seen=seen))
            await asyncio.wait({read, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not read.done():  # stopped while held: nothing more is expected
                read.cancel()
                break
            items = read.result()
            reads += 1
            now = time.time()
            seen = items[0]["message_id"] if items else None
            for m in items:
                oid = m.get("order_id")
                if oid in b.pending and oid not in b.found and str(m["title"]).startswith(PAYMENT_TITLE):
                    b.found[oid] = (now, datetime.fromisoformat(m["created_at"]).timestamp())
    finally:
        stopped.cancel()
    return reads


async def sustained_inbox(
    api: Api,
    rate: float,
    duration: float,
    log: Any,
    rss: PeakRss,
    buyers: int = 2,
) -> dict[str, Any]:
    """Pay `rate` orders per second for `duration` seconds on a fixed schedule (open loop: a slow answer does
    not delay the next payment) and time each payment to its in-site message."""
    pairs = [await api.pair() for _ in range(buyers)]
    n = round(rate * duration)
    placed = await bounded(8, [api.place(*pairs[i % buyers]) for i in range(n)])
    parties = [p for pair in pairs for p in pair]
    log(f"  placed {n} orders for {buyers} buyers; backlog drained in {await api.quiesce(parties):.1f}s")
    state = [_Buyer(b, {}, {}) for b, _ in pairs]
    stop = asyncio.Event()
    readers = [asyncio.create_task(_read_inbox(api, b, stop)) for b in state]
    pay_s: list[float] = []
    late: list[float] = []

    async def pay(b: _Buyer, oid: str) -> None:
        t = time.time()
        b.pending[oid] = t
        await api.pay(b.party, oid)
        pay_s.append(time.time() - t)

    rss.start()
    start = time.monotonic() + 0.2
    tasks = []
    per_window = max(1, round(rate * WINDOW_S))
    cpu_marks: list[tuple[float, dict[str, float]]] = []  # (when, CPU seconds so far) at each window's start
    for i, oid in enumerate(placed):
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        late.append(time.monotonic() - due)
        if i % per_window == 0:
            cpu_marks.append((time.monotonic(), cpu_seconds(rss.stack)))
        tasks.append(asyncio.create_task(pay(state[i % buyers], oid)))
    cpu_marks.append((time.monotonic(), cpu_seconds(rss.stack)))
    await asyncio.gather(*tasks)
    deadline = time.monotonic() + TIMEOUT
    # the readers fill `found`; this only looks at how far they got
    while sum(len(b.found) for b in state) < n and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    stop.set()
    reads = sum(await asyncio.gather(*readers))
    rss.stop()
    observed = [b.found[o][0] - t for b in state for o, t in b.pending.items() if o in b.found]
    stamped = [max(0.0, b.found[o][1] - t) for b in state for o, t in b.pending.items() if o in b.found]
    arrived = sum(len(b.found) for b in state)
    log(f"  {n} payments at {rate:g}/s over {duration:g}s; {arrived} in-site messages seen ({reads} reads)")
    # The same latencies by when the payment was sent: a slow stretch shows apart from a slow whole.
    paid_at = [(t, b.found[o]) for b in state for o, t in b.pending.items() if o in b.found]
    t0 = min((t for t, _ in paid_at), default=0.0)
    by_window: dict[int, list[tuple[float, float]]] = {}  # window -> (seen, created_at) less the pay time
    for t, (seen, made) in paid_at:
        by_window.setdefault(int((t - t0) // WINDOW_S), []).append((seen - t, max(0.0, made - t)))
    windows = [
        {
            "from_s": w * WINDOW_S,
            "to_s": (w + 1) * WINDOW_S,
            "cpu_cores": _cores(cpu_marks[w], cpu_marks[w + 1]) if w + 1 < len(cpu_marks) else {},
            "observed": summary_ms([seen for seen, _ in by_window.get(w, [])]),
            "server_stamped": summary_ms([made for _, made in by_window.get(w, [])]),
        }
        for w in range(math.ceil(duration / WINDOW_S))
    ]
    return {
        "rate_per_s": rate,
        "duration_s": duration,
        "orders": n,
        "buyers": buyers,
        "arrived": arrived,
        "all_arrived": arrived == n,
        "observed": summary_ms(observed),
        "server_stamped": summary_ms(stamped),
        "pay_post": summary_ms(pay_s),
        "schedule_lag": summary_ms(late),  # how late the bench sent a payment against its schedule
        "windows": windows,
        "reads": reads,
        "reads_per_s": round(reads / max(duration, 1e-6), 1),
        "memory_peak": rss.peaks(),
    }
