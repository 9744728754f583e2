"""The chaos harness's checks on a faked suite (httpx.MockTransport answering as the services and the sinks): a
clean run is clean, and each way of losing, duplicating or sticking is counted where the last line says it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from chaos.checks import Checker, Findings
from chaos.cluster import Cluster
from chaos.story import Kind, Plan
from chaos.world import Person, World
from devstack.identity import User
from devstack.stack import Ports, Stack

POISON = [
    {
        "key": f"chaos-poison-1-{i}",
        "topic": "order.paid",
        "event_type": None,
        "consumer_group": "g",
        "reason": "invalid event",
    }
    for i in range(3)
]


def person(role: str) -> Person:
    user = User(
        "http://idp",
        {},
        _token="token",
        _expires=1e12,
        account_id=f"{role}-id",
        username=role,
        role=role,
        email=f"{role}@example.com",
    )
    return Person(user, "+8613100000000")


@dataclass
class Suite:
    """What the faked services and sinks answer; each test spoils one thing."""

    stack: Stack
    plan: Plan
    operator: Person
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    mails: list[str] = field(default_factory=list)  # Message-IDs at Mailpit
    texts: list[str] = field(default_factory=list)  # delivery ids named by the SMS status callbacks
    inbox: dict[str, list[str]] = field(default_factory=dict)  # account -> message ids
    orders: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    dead: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    parked: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for n, (account, message_type, channel) in enumerate(
            sorted(self.plan.expected_messages(self.operator))
        ):
            d = {
                "delivery_id": f"d{n}",
                "account_id": account,
                "message_type": message_type,
                "channel": channel,
                "status": "sent",
                "attempts": 1,
                "last_error": None,
            }
            self.deliveries.append(d)
            if channel == "email":
                self.mails.append(f"<d{n}@koo-suite.local>")
            elif channel == "sms":
                self.texts.append(f"d{n}")
            else:
                self.inbox.setdefault(account, []).append(f"d{n}")
        self.orders = [{"order_id": "CS1", "status": "refunded", "product": {"product_id": "p"}}]
        self.ledger = [
            {"order_id": "CS1", "kind": "commission", "amount": "50.00"},
            {"order_id": "CS1", "kind": "reversal", "amount": "-50.00"},
        ]
        self.dead = {"orders": list(POISON)}

    def service(self, port: int) -> str:
        return next(
            s
            for s in ("orders", "supervision", "notification", "partner")
            if self.stack.url(s).endswith(f":{port}")
        )

    def answer(self, request: httpx.Request) -> httpx.Response:
        url = urlsplit(str(request.url))
        path, q = url.path, dict(request.url.params)
        if url.port == self.stack.ports.mailpit_http:
            rows = [
                {
                    "ID": m,
                    "MessageID": m.strip("<>"),
                    "Subject": "s",
                    "From": {"Address": "n@x"},
                    "To": [{"Address": "a@x"}],
                    "Created": "2026-11-20T01:00:00+00:00",
                }
                for m in self.mails
            ]
            start = int(q.get("start", 0))
            return httpx.Response(
                200, json={"messages": rows[start : start + 500], "messages_count": len(rows)}
            )
        if url.port == self.stack.ports.sms_http:
            return httpx.Response(
                200, json=[{"status_callback": f"http://n/callbacks/sms/{d}"} for d in self.texts]
            )
        service = self.service(url.port or 0)
        if path == "/purchased-services":
            if q.get("order_type") == "unsubscribe":
                return httpx.Response(
                    200, json=[{"order_id": "CS2", "original_order_id": "CS1", "status": "completed"}]
                )
            return httpx.Response(200, json=[] if "status" in q else self.orders)
        if path.endswith("/deliveries"):
            account = path.split("/")[2]
            return httpx.Response(200, json=[d for d in self.deliveries if d["account_id"] == account])
        if path.endswith("/inbox"):
            items = [{"message_id": m} for m in self.inbox.get(path.split("/")[2], [])]
            return httpx.Response(200, json={"items": items[int(q["offset"]) :], "total": len(items)})
        if path.endswith("/ledger"):
            return httpx.Response(200, json={"entries": self.ledger})
        if path == "/operator/dead-letters":
            return httpx.Response(200, json=self.dead.get(service, []))
        if path == "/operator/parked":
            return httpx.Response(200, json=self.parked if service == "supervision" else [])
        if path == "/readyz":
            return httpx.Response(
                200,
                json={"outbox": {"pending": 0}, "workers": {"relay": {"quarantined": 0, "last_error": None}}},
            )
        if path == "/operator/deliveries/dead":
            return httpx.Response(200, json=[])
        return httpx.Response(404, json={"detail": f"no fake for {path}"})


async def check(tmp_path: Path, spoil: Callable[[Suite], None]) -> Findings:
    stack = Stack(tmp_path, Ports())
    operator, buyer, merchant, provider = (person(r) for r in ("operator", "buyer", "merchant", "provider"))
    plan = Plan(0, Kind.IMAGE_REFUND, buyer, merchant, provider, order_id="CS1", done=True, step="done")
    suite = Suite(stack, plan, operator)
    spoil(suite)
    world = World(operator, operator.user, [buyer], [merchant], [provider])
    async with httpx.AsyncClient(transport=httpx.MockTransport(suite.answer)) as http:
        return await Checker(Cluster(stack, http), world, [plan], 3, lambda _: None).check()


async def test_a_clean_suite_is_clean_and_counts_its_poison(tmp_path: Path) -> None:
    found = await check(tmp_path, lambda s: None)
    assert found.clean, found.summary()
    assert found.poisoned == 3
    assert found.counts["deliveries"] == 13  # image refund: buyer 2×3, merchant 2×3, provider 1 in-site
    assert (found.counts["emails"], found.counts["sms"], found.counts["in_site"]) == (4, 4, 5)


def _dup_mail(s: Suite) -> None:
    s.mails.append(s.mails[0])


def _pending(s: Suite) -> None:
    s.deliveries[0]["status"] = "pending"


def _extra_order(s: Suite) -> None:
    s.orders.append({"order_id": "CS9", "status": "pending_payment", "product": {"product_id": "p"}})


def _not_refunded(s: Suite) -> None:
    s.orders[0]["status"] = "completed"


def _planned_twice(s: Suite) -> None:
    """The same message planned again under another delivery id (say, an event published twice), and sent."""
    first = next(d for d in s.deliveries if d["channel"] == "in_site")
    s.deliveries.append({**first, "delivery_id": "again"})
    s.inbox[first["account_id"]].append("again")


def _never_planned(s: Suite) -> None:
    gone = s.deliveries.pop()
    s.inbox[gone["account_id"]].remove(gone["delivery_id"])


@pytest.mark.parametrize(
    ("spoil", "kind", "n"),
    [
        (_dup_mail, "duplicated", 1),
        (lambda s: s.texts.pop(), "lost", 1),
        (_never_planned, "lost", 1),
        (_pending, "stuck", 1),
        (_planned_twice, "duplicated", 1),
        (lambda s: s.ledger.append(dict(s.ledger[0])), "duplicated", 1),
        (lambda s: s.ledger.pop(), "lost", 1),
        (_extra_order, "duplicated", 1),
        (_not_refunded, "stuck", 1),
        (lambda s: s.dead["orders"].append({**POISON[0], "key": "CS1"}), "dead_lettered", 1),
        (lambda s: s.dead["orders"].pop(), "lost", 1),
        (
            lambda s: s.parked.append(
                {"topic": "t", "key": "CS1", "first_seen": "then", "reason": "NotYetKnown"}
            ),
            "stuck",
            1,
        ),
        (lambda s: s.mails.append("<stray@koo-suite.local>"), "unexpected", 1),
    ],
)
async def test_each_loss_duplicate_and_stuck_thing_is_counted(
    tmp_path: Path, spoil: Callable[[Suite], None], kind: str, n: int
) -> None:
    found = await check(tmp_path, spoil)
    counted = {
        k: len(getattr(found, k)) for k in ("lost", "duplicated", "stuck", "dead_lettered", "unexpected")
    }
    assert counted == {**dict.fromkeys(counted, 0), kind: n}, (found.lost, found.duplicated, found.stuck)


def test_a_note_on_a_fault_is_no_failure_but_a_problem_is() -> None:
    from chaos.faults import Fault, all_recovered

    killed = Fault(
        "kill -9, restart",
        "orders",
        0.1,
        started=1.0,
        ended=4.0,
        recovered=9.0,
        note="killed while serving a POST",
    )
    assert all_recovered([killed])
    assert not all_recovered([killed, Fault("kill -9, restart", "partner", 0.2, started=5.0, ended=8.0)])
    dead = Fault(
        "kill -9, restart",
        "notification-2",
        0.3,
        started=5.0,
        ended=8.0,
        recovered=None,
        problem="notification-2 exited after the restart",
    )
    assert not all_recovered([killed, dead])
