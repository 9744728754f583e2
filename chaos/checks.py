"""The end of a run: wait until the suite has drained (within a bound), then check, through the services' own
APIs and the sinks, that nothing was lost, nothing done twice and nothing is stuck.

- orders: each in its story's final state (the buyers' purchased services), no order the harness did not place
  (a retried POST that created twice), one unsubscribe order per 5-day refund;
- messages: the delivery log of every party of every order (notification's `/accounts/{id}/deliveries`) holds
  exactly the deliveries the story must make, all sent; each delivery id reached its sink exactly once: the
  inbox (message id = delivery id), Mailpit (Message-ID `<delivery id@koo-suite.local>`) or the SMS endpoint
  (the status callback names the delivery). A sink message no delivery accounts for is reported too;
- ledgers: each provider's earnings booked once, each refund reversed once;
- dead letters: none but the poison (`/operator/dead-letters` of each producing service); nothing parked
  (`/operator/parked` of every service); every outbox empty and nothing quarantined (`/readyz`).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chaos import poison
from chaos.cluster import Cluster
from chaos.story import Kind, Plan
from chaos.world import Person, World
from devstack.mailbox import Mailbox
from devstack.stack import SERVICES
from shared.schemas.acl import GRANTS

PRODUCERS = [s for s in SERVICES if GRANTS[s].produces]  # the services that keep dead letters


@dataclass
class Findings:
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    dead_lettered: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # sink messages no delivery accounts for
    poisoned: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # what was checked: orders, deliveries, mails ...

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.stuck or self.dead_lettered or self.unexpected)

    def summary(self) -> str:
        return (
            f"lost={len(self.lost)} duplicated={len(self.duplicated)} stuck={len(self.stuck)} "
            f"dead_lettered={len(self.dead_lettered)} unexpected={len(self.unexpected)} "
            f"poisoned={self.poisoned}"
        )


@dataclass
class Checker:
    cluster: Cluster
    world: World
    plans: list[Plan]
    poison_expected: int
    log: Callable[[str], None]

    async def settle(self, bound: float) -> Findings:
        """Check until everything is in order or `bound` seconds have passed; the last findings stand."""
        end = time.monotonic() + bound
        while True:
            findings = await self.check()
            left = end - time.monotonic()
            self.log(
                f"check: {findings.summary()}"
                + ("" if findings.clean or left <= 0 else f"; checking again (up to {left:.0f}s more)")
            )
            for line in (findings.lost + findings.stuck)[:5]:  # what it waits for, while it waits
                self.log(f"  waiting for: {line[:300]}")
            if findings.clean or left <= 0:
                return findings
            await asyncio.sleep(min(15.0, max(1.0, left)))

    async def check(self) -> Findings:
        f = Findings()
        for plan in self.plans:
            if not plan.done:
                f.stuck.append(
                    f"order #{plan.index} ({plan.kind}) {plan.order_id or '(not placed)'}: the harness "
                    f"could not walk it past '{plan.step}': {plan.error}"
                )
        await self._orders(f)
        await self._messages(f)
        await self._ledgers(f)
        await self._operations(f)
        return f

    # --- orders ---------------------------------------------------------------------------------------------
    async def _orders(self, f: Findings) -> None:
        mine = {p.order_id: p for p in self.plans if p.order_id}
        # An unsubscribe order records the refund the buyer asked for: the 5-day one, and the guarantee
        # period's.
        refunds = {p.order_id for p in self.plans if p.kind in (Kind.IMAGE_REFUND, Kind.GUARANTEE_REFUND)}

        async def of(buyer: Person) -> None:
            seen: dict[str, dict[str, Any]] = {}
            for query in ({}, {"status": "pending_payment"}, {"status": "cancelled"}):
                for o in await self.cluster.call("GET", "orders", "/purchased-services", buyer, params=query):
                    seen[o["order_id"]] = o
            unsubscribes: list[dict[str, Any]] = await self.cluster.call(
                "GET", "orders", "/purchased-services", buyer, params={"order_type": "unsubscribe"}
            )
            for order_id, o in seen.items():
                plan = mine.get(order_id)
                if plan is None:
                    f.duplicated.append(
                        f"order {order_id} of buyer {buyer.id}: placed by nobody in this run "
                        f"({o['status']}, product {o['product']['product_id']})"
                    )
                elif o["status"] != plan.final_status:
                    f.stuck.append(
                        f"order #{plan.index} ({plan.kind}) {order_id}: {o['status']}, "
                        f"expected {plan.final_status}"
                    )
            for plan in (p for p in self.plans if p.buyer is buyer and p.order_id and p.order_id not in seen):
                f.lost.append(
                    f"order #{plan.index} ({plan.kind}) {plan.order_id}: not among the buyer's orders"
                )
            by_original = Counter(u["original_order_id"] for u in unsubscribes)
            for original, n in by_original.items():
                if original not in refunds or n > 1:
                    f.duplicated.append(
                        f"{n} unsubscribe order(s) of {original}, expected {1 if original in refunds else 0}"
                    )
            for u in unsubscribes:
                if u["original_order_id"] in refunds and u["status"] != "completed":
                    f.stuck.append(
                        f"unsubscribe order {u['order_id']} of {u['original_order_id']}: {u['status']}"
                    )
            for plan in self.plans:
                if (
                    plan.buyer is buyer
                    and plan.order_id in refunds
                    and plan.done
                    and by_original[plan.order_id] == 0
                ):
                    f.lost.append(f"order #{plan.index} {plan.order_id}: no unsubscribe order for its refund")

        await _gather(8, [of(b) for b in self.world.buyers])
        f.counts["orders"] = len(mine)
        await self._service_orders(f)

    async def _service_orders(self, f: Findings) -> None:
        """A refunded supervised order's service order ends refunded too: orders decides, supervision follows
        its refund.decided (one owner for refunds)."""
        refunded = [
            p for p in self.plans if p.so_id and p.kind in (Kind.APPEAL_REFUND, Kind.GUARANTEE_REFUND)
        ]

        async def one(plan: Plan) -> None:
            so = await self.cluster.call("GET", "supervision", f"/service-orders/{plan.so_id}", plan.buyer)
            if so["status"] != "refunded":
                f.stuck.append(
                    f"service order of #{plan.index} ({plan.kind}) {plan.so_id}: {so['status']}, "
                    f"expected refunded"
                )

        await _gather(8, [one(p) for p in refunded])
        f.counts["service_orders"] = len(refunded)

    # --- messages -------------------------------------------------------------------------------------------
    async def _messages(self, f: Findings) -> None:
        c, op = self.cluster, self.world.operator
        mails = Counter(
            _delivery_of_mail(m.message_id) for m in await Mailbox(c.stack.mail_url, c.http).messages()
        )
        sms_rows: list[dict[str, Any]] = (await c.http.get(f"{c.stack.sms_url}/sms")).json()
        texts = Counter(_delivery_of_sms(r.get("status_callback")) for r in sms_rows)
        inbox: Counter[str] = Counter()
        for counted in await _gather(8, [self._inbox(p) for p in self.world.people]):
            inbox.update(counted)
        sinks = {"email": mails, "sms": texts, "in_site": inbox}
        accounted: set[str] = set()

        async def of(plan: Plan) -> None:
            if not plan.order_id:
                return
            expected = plan.expected_messages(op)
            got: Counter[tuple[str, str, str]] = Counter()
            for account in sorted({a for a, _, _ in expected}):
                who = next(p for p in self.world.people if p.id == account)
                log: list[dict[str, Any]] = await c.call(
                    "GET",
                    "notification",
                    f"/accounts/{account}/deliveries",
                    who,
                    params={"order_id": plan.order_id, "limit": 200},
                )
                for d in log:
                    got[(account, d["message_type"], d["channel"])] += 1
                    accounted.add(d["delivery_id"])
                    where = (
                        f"order #{plan.index} {plan.order_id}: {d['message_type']} by {d['channel']} to "
                        f"{_role(plan, account, op)} (delivery {d['delivery_id']})"
                    )
                    if d["status"] in ("pending", "sending"):
                        f.stuck.append(
                            f"{where}: {d['status']} after {d['attempts']} attempt(s); "
                            f"last error {d['last_error']}"
                        )
                    elif d["status"] != "sent":
                        f.lost.append(f"{where}: {d['status']} ({d['last_error']})")
                    else:
                        n = sinks[d["channel"]][d["delivery_id"]]
                        if n == 0:
                            f.lost.append(f"{where}: sent, but not at the {d['channel']} sink")
                        elif n > 1:
                            f.duplicated.append(f"{where}: {n} times at the {d['channel']} sink")
            for key, n in (expected - got).items():
                f.lost.append(
                    f"order #{plan.index} ({plan.kind}) {plan.order_id}: {n} × {key[1]} by {key[2]} to "
                    f"{_role(plan, key[0], op)} never planned"
                )
            for key, n in (got - expected).items():
                f.duplicated.append(
                    f"order #{plan.index} ({plan.kind}) {plan.order_id}: {n} × {key[1]} by {key[2]} "
                    f"to {_role(plan, key[0], op)} more than the story makes"
                )

        await _gather(8, [of(p) for p in self.plans])
        stray = [(ch, d, n) for ch, got in sinks.items() for d, n in got.items() if d not in accounted]
        for channel, delivery_id, n in await self._setup_messages(stray, accounted, f):
            f.unexpected.append(f"{n} message(s) by {channel} (delivery {delivery_id}) of no order's story")
        f.counts.update(
            {
                "emails": sum(mails.values()),
                "sms": sum(texts.values()),
                "in_site": sum(inbox.values()),
                "deliveries": len(accounted),
            }
        )

    async def _setup_messages(
        self, stray: list[tuple[str, str, int]], accounted: set[str], f: Findings
    ) -> list[tuple[str, str, int]]:
        """The messages of the world's setup rather than of an order: each listed product's review result to
        its merchant, by in-site message and SMS (dossier §6.3), exactly once each. Returns what is left."""
        c, told = self.cluster, Counter[tuple[str, str]]()
        left: list[tuple[str, str, int]] = []
        for channel, delivery_id, n in stray:
            found = None
            for merchant in self.world.merchants:
                path = f"/accounts/{merchant.id}/deliveries/{delivery_id}"
                d = await c.call("GET", "notification", path, merchant, absent={404})
                if d is not None:
                    found = (merchant, d)
                    break
            if found is None or found[1]["message_type"] != "listing_review_result":
                left.append((channel, delivery_id, n))
                continue
            accounted.add(delivery_id)
            told[(found[0].id, channel)] += 1
            if n > 1:
                f.duplicated.append(f"listing review result by {channel} to {found[0].id}: {n} times")
        for merchant in self.world.merchants:
            for channel in ("in_site", "sms"):
                listed = len(self.world.products.get(merchant.id, {}))
                if told[(merchant.id, channel)] != listed:
                    f.lost.append(
                        f"listing review results by {channel} to {merchant.id}: "
                        f"{told[(merchant.id, channel)]} of {listed}"
                    )
        return left

    async def _inbox(self, who: Person) -> Counter[str]:
        out: Counter[str] = Counter()
        offset = 0
        while True:
            page = await self.cluster.call(
                "GET",
                "notification",
                f"/accounts/{who.id}/inbox",
                who,
                params={"limit": 100, "offset": offset},
            )
            out.update(m["message_id"] for m in page["items"])
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return out

    # --- ledgers --------------------------------------------------------------------------------------------
    async def _ledgers(self, f: Findings) -> None:
        expected: dict[str, Counter[tuple[str, Decimal]]] = {}
        for plan in self.plans:
            if plan.provider is not None and plan.order_id:
                expected[plan.order_id] = plan.expected_ledger()
        got: dict[str, Counter[tuple[str, Decimal]]] = {}
        for provider in self.world.providers:
            ledger = await self.cluster.call("GET", "partner", f"/providers/{provider.id}/ledger", provider)
            for e in ledger["entries"]:
                got.setdefault(e["order_id"], Counter())[(e["kind"], Decimal(e["amount"]))] += 1
        for order_id in sorted(set(expected) | set(got)):
            want, have = expected.get(order_id, Counter()), got.get(order_id, Counter())
            for (kind, amount), n in (want - have).items():
                f.lost.append(f"ledger of order {order_id}: {n} × {kind} {amount} missing")
            for (kind, amount), n in (have - want).items():
                f.duplicated.append(
                    f"ledger of order {order_id}: {n} × {kind} {amount} more than booked once"
                )
        f.counts["ledger_entries"] = sum(sum(c.values()) for c in got.values())

    # --- dead letters, parked events, outboxes, workers -----------------------------------------------------
    async def _operations(self, f: Findings) -> None:
        c, op = self.cluster, self.world.operator
        for service in PRODUCERS:
            letters = await c.call("GET", service, "/operator/dead-letters", op, params={"limit": 1000})
            for d in letters:
                if d["key"].startswith(poison.KEY):
                    f.poisoned += 1
                else:
                    f.dead_lettered.append(
                        f"{service}: dead letter of {d['topic']} ({d['event_type']}, key "
                        f"{d['key']}) from {d['consumer_group']}: {d['reason'][:200]}"
                    )
        if f.poisoned < self.poison_expected:
            f.lost.append(f"poison: {self.poison_expected} dead letters expected, {f.poisoned} kept")
        for service in SERVICES:
            for p in await c.call("GET", service, "/operator/parked", op, params={"limit": 1000}):
                f.stuck.append(
                    f"{service}: parked {p['topic']} (key {p['key']}) since {p['first_seen']}: "
                    f"{p['reason'][:200]}"
                )
            health = await c.call("GET", service, "/readyz", None)
            pending = health.get("outbox", {}).get("pending")
            if pending:
                f.stuck.append(f"{service}: {pending} outbox rows not published")
            for worker, h in health["workers"].items():
                if h["quarantined"]:
                    f.stuck.append(
                        f"{service}: worker {worker} has {h['quarantined']} quarantined item(s); "
                        f"last error {h['last_error']}"
                    )
        dead = await c.call("GET", "notification", "/operator/deliveries/dead", op)
        for d in dead:
            f.lost.append(
                f"notification: dead delivery {d.get('delivery_id')} ({d.get('message_type')}, "
                f"{d.get('channel')}): {d.get('last_error')}"
            )


def _delivery_of_mail(message_id: str | None) -> str:
    return (message_id or "").strip("<>").split("@", 1)[0]


def _delivery_of_sms(callback: str | None) -> str:
    return (callback or "").rstrip("/").rsplit("/", 1)[-1]


def _role(plan: Plan, account: str, operator: Person) -> str:
    if account == plan.buyer.id:
        return "buyer"
    if account == plan.merchant.id:
        return "merchant"
    if plan.provider is not None and account == plan.provider.id:
        return "provider"
    return "operator" if account == operator.id else account


async def _gather(limit: int, coros: list[Any]) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(coro: Any) -> Any:
        async with gate:
            return await coro

    return list(await asyncio.gather(*(one(x) for x in coros)))
