"""Measurement 3: notification deliveries per second for a burst of payments (6 deliveries per order.paid)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bench.api import Api, BenchError, Party
from bench.latency import bounded
from bench.memory import cpu_share

ANCHOR_EV_S = 585.0  # infra-notes §5: FastStream Kafka round-trip, 0.6.0rc0, aiokafka, --cpus=0.5
ORDER_ID = re.compile(r"CS[0-9]{12}[0-9A-F]{8}")
SINK_POLL = 0.5  # each poll lists every row for the two parties; the end time comes from the sinks' stamps


def _matching(rows: list[dict[str, Any]], field: str, order_ids: set[str]) -> list[dict[str, Any]]:
    return [r for r in rows if any(m in order_ids for m in ORDER_ID.findall(str(r.get(field, ""))))]


async def _delivered(api: Api, parties: list[Party], order_ids: set[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for p in parties:
        mail, sms = await asyncio.gather(api.sink("mail", p.email), api.sink("sms", p.phone))
        rows += _matching(mail, "subject", order_ids) + _matching(sms, "body", order_ids)
    return rows


async def deliveries(
    api: Api, orders: int, concurrency: int, log: Any, cpu: Callable[[], dict[str, float]], cap: float = 150.0
) -> dict[str, Any]:
    buyer, merchant = await api.pair()
    parties = [buyer, merchant]
    order_ids = await bounded(6, [api.place(buyer, merchant) for _ in range(orders)])
    wanted = set(order_ids)
    expected = (
        4 * orders
    )  # email + SMS to the buyer and to the merchant; in-site makes 6 deliveries per event
    await api.quiesce(parties)
    log(f"  placed {orders} orders; paying them with concurrency {concurrency}")

    cpu0, t0, wall0 = cpu(), time.perf_counter(), time.time()
    await bounded(concurrency, [api.pay(buyer, oid) for oid in order_ids])
    paid_s = time.perf_counter() - t0
    rows: list[dict[str, Any]] = []
    capped = False
    while len(rows) < expected:
        if time.perf_counter() - t0 > cap:  # a slow machine: the rate so far is still a measurement
            capped = True
            log(
                f"  stopped waiting after {cap:.0f}s with {len(rows)}/{expected} sends; rate over that window"
            )
            break
        await asyncio.sleep(SINK_POLL)
        rows = await _delivered(api, parties, wanted)
    if not rows:
        raise BenchError(f"no email or SMS of {orders} paid orders reached the sinks within {cap:.0f}s")
    observed_s = time.perf_counter() - t0
    cores = cpu_share(cpu0, cpu(), observed_s)
    # Mailpit and the SMS sink stamp each accepted message; the last stamp is the true end (polling only
    # delays noticing it).
    stamps = sorted(datetime.fromisoformat(r["received_at"]).timestamp() - wall0 for r in rows)
    span = max(stamps[-1] if not capped else observed_s, 1e-6)
    sent = min(len(rows), expected)  # a duplicate send (the at-least-once window) notifies no one new
    events = sent / 4
    # When the first, a quarter, half, ... of the sends arrived: a rate that decays shows as widening gaps.
    progress = {f"{q}%": round(stamps[max(0, len(stamps) * q // 100 - 1)], 2) for q in (25, 50, 75, 100)}
    if len(rows) > expected:
        log(f"  note: {len(rows) - expected} duplicate sends seen (at-least-once window)")
    events_per_s = events / span
    result: dict[str, Any] = {
        "orders": orders,
        "pay_concurrency": concurrency,
        "pay_phase_s": round(paid_s, 3),
        "pay_requests_per_s": round(orders / paid_s, 1),
        "external_sends_expected": expected,
        "external_sends_seen": sent,
        "capped": capped,
        "span_s": round(span, 3),
        "observed_s": round(observed_s, 3),
        "first_send_s": round(stamps[0], 3),
        "progress_s": progress,
        "external_deliveries_per_s": round(sent / span, 1),
        "all_deliveries_per_s": round(6 * events / span, 1),
        "events_per_s": round(events_per_s, 1),
        "events_vs_anchor": round(events_per_s / ANCHOR_EV_S, 3),
        "anchor_ev_s": ANCHOR_EV_S,
        "cpu_cores": cores,
    }
    log(f"  {sent} emails+SMS in {span:.2f}s")
    return result
