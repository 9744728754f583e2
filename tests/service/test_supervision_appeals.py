"""The operators' appeal queue and assignment (dossier §5.3, §9.2), the merchant's proof file (§5.1/§5.2) and
the escalation an overdue appeal's SLA fires (§5.3), over in-memory fakes behind the real token check."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.schemas import AccountRole, DeliveryType, NoticeKind, NoticeRequested
from tests.factories import rid
from tests.service.supervision_env import Env, People, auth

APPEAL = {"reason": "no answer for a week", "demands": "the platform decides"}


@pytest.fixture
def env() -> Env:
    return Env()


async def appeal(env: Env, *, by: str = "buyer") -> tuple[str, People, dict[str, Any]]:
    """A new service order with an appeal raised by its buyer (or merchant): (its id, its people, the appeal)."""
    paid = await env.open()
    who = People.of(paid.payload.parties)
    so_id = f"SO-{paid.order_id}"
    so = await env.call("POST", f"/service-orders/{so_id}/appeals", getattr(who, by), expect=201, json=APPEAL)
    return so_id, who, so["open_appeal"]


def ids(page: dict[str, Any]) -> list[str]:
    return [row["appeal_id"] for row in page["appeals"]]


async def test_the_queue_lists_appeals_oldest_sla_first_with_what_an_operator_needs(env: Env) -> None:
    first_so, who, first = await appeal(env)
    env.clock.now += timedelta(hours=1)
    _, _, second = await appeal(env)
    op = who.operator

    page = await env.call("GET", "/appeals", op)
    assert ids(page) == [first["appeal_id"], second["appeal_id"]]
    [row, _] = page["appeals"]
    assert row["service_order_id"] == first_so
    assert row["order_id"] == first_so.removeprefix("SO-")
    assert row["raised_by"] == {"role": "buyer", "account_id": first["raised_by_account_id"]}
    assert row["reason"] == APPEAL["reason"]
    assert row["status"] == "open"
    assert row["assignee_account_id"] is None
    assert row["due_at"] == first["respond_by"]  # 3 working days (shared/workdays)
    assert row["remaining_seconds"] == 3 * 86400 - 3600  # Monday 16:00 Beijing → Thursday, an hour later

    # Buyers, merchants and providers are refused: the queue is the operators'.
    for outsider in (who.buyer, who.merchant, who.provider):
        await env.refused("GET", "/appeals", outsider, "operators_only")


async def test_the_queue_filters_by_status_age_sla_and_assignee_and_pages_with_a_cursor(env: Env) -> None:
    _, who, a = await appeal(env)
    env.clock.now += timedelta(days=1)
    _, _, b = await appeal(env, by="merchant")
    env.clock.now += timedelta(days=1)
    c_so, _, c = await appeal(env)
    op = who.operator

    # Age: raised before / after an instant.
    cut = (env.clock.now - timedelta(hours=12)).isoformat()
    assert ids(await env.call("GET", "/appeals", op, params={"raised_before": cut})) == [
        a["appeal_id"],
        b["appeal_id"],
    ]
    assert ids(await env.call("GET", "/appeals", op, params={"raised_after": cut})) == [c["appeal_id"]]

    # SLA: `a` (raised Monday) is due Thursday; two days on, it is due within 24 hours, none overdue yet.
    assert ids(await env.call("GET", "/appeals", op, params={"due_within_hours": 24})) == [a["appeal_id"]]
    assert ids(await env.call("GET", "/appeals", op, params={"overdue": "true"})) == []
    env.clock.now += timedelta(days=1, minutes=1)  # Thursday 16:01: `a` is overdue
    assert ids(await env.call("GET", "/appeals", op, params={"overdue": "true"})) == [a["appeal_id"]]
    [late] = (await env.call("GET", "/appeals", op, params={"overdue": "true"}))["appeals"]
    assert late["remaining_seconds"] == -60

    # Assignee: the caller by default; another operator on reassignment.
    await env.call("POST", f"/appeals/{b['appeal_id']}/assign", op)
    mine = await env.call("GET", "/appeals", op, params={"assignee": who.operator_id})
    assert ids(mine) == [b["appeal_id"]]
    assert ids(await env.call("GET", "/appeals", op, params={"unassigned": "true"})) == [
        a["appeal_id"],
        c["appeal_id"],
    ]

    # Status: resolved ones leave the open list.
    body = {"outcome": "resume"}
    await env.call("POST", f"/service-orders/{c_so}/appeals/{c['appeal_id']}/resolution", op, json=body)
    assert ids(await env.call("GET", "/appeals", op, params={"status": "resolved"})) == [c["appeal_id"]]
    assert ids(await env.call("GET", "/appeals", op, params={"status": "open"})) == [
        a["appeal_id"],
        b["appeal_id"],
    ]
    [resolved] = (await env.call("GET", "/appeals", op, params={"status": "resolved"}))["appeals"]
    assert resolved["remaining_seconds"] is None

    # Pages: a stable order, each row once, the last page without a cursor.
    first = await env.call("GET", "/appeals", op, params={"limit": 2})
    assert first["next_cursor"] is not None
    rest = await env.call("GET", "/appeals", op, params={"limit": 2, "cursor": first["next_cursor"]})
    assert ids(first) + ids(rest) == [a["appeal_id"], b["appeal_id"], c["appeal_id"]]
    assert rest["next_cursor"] is None
    bad = await env.call("GET", "/appeals", op, expect=422, params={"cursor": "not-a-cursor"})
    assert bad["detail"]["field"] == "cursor"
    bad = await env.call("GET", "/appeals", op, expect=422, params={"status": "lost"})
    assert "status" in str(bad["detail"])


async def test_assigning_and_reassigning_an_appeal_is_on_the_timeline(env: Env) -> None:
    so_id, who, a = await appeal(env)
    path = f"/appeals/{a['appeal_id']}/assign"
    other = rid("op")
    so = await env.call("POST", path, who.operator)
    assert so["open_appeal"]["assignee_account_id"] == who.operator_id
    so = await env.call("POST", path, who.operator, json={"assignee_account_id": other})
    assert so["open_appeal"]["assignee_account_id"] == other
    assigned = [e for e in so["timeline"] if e["action"] == "appeal_assigned"]
    assert [
        (e["actor_account_id"], e["details"]["assignee"], e["details"]["previous_assignee"]) for e in assigned
    ] == [
        (who.operator_id, who.operator_id, None),
        (who.operator_id, other, who.operator_id),
    ]
    await env.refused("POST", path, who.merchant, "operators_only")
    await env.call("POST", "/appeals/AP-nothing/assign", who.operator, expect=404)
    # A resolved appeal is no longer assignable.
    await env.call(
        "POST",
        f"/service-orders/{so_id}/appeals/{a['appeal_id']}/resolution",
        who.operator,
        json={"outcome": "resume"},
    )
    await env.call("POST", path, auth(rid("op"), "operator"), expect=404)


async def test_an_overdue_appeal_is_escalated_once_with_notices_in_the_same_transaction(env: Env) -> None:
    so_id, who, a = await appeal(env)
    env.clock.now += timedelta(days=3)  # Monday 16:00 Beijing + 3 working days: Thursday 16:00, due
    assert await env.fire_due() == 1
    so = await env.call("GET", f"/service-orders/{so_id}", who.operator)
    assert so["open_appeal"]["escalated_at"] is not None
    assert so["timeline"][-1]["action"] == "appeal_sla_due"
    [notice] = [e for e in env.state.outbox if isinstance(e, NoticeRequested)]
    assert notice.payload.kind is NoticeKind.APPEAL_ESCALATED
    assert {r.role for r in notice.payload.recipients} == {
        AccountRole.OPERATOR,
        AccountRole.BUYER,
        AccountRole.MERCHANT,
    }
    page = await env.call("GET", "/appeals", who.operator, params={"status": "escalated"})
    assert ids(page) == [a["appeal_id"]]
    env.clock.now += timedelta(days=1)
    assert await env.fire_due() == 0  # the SLA deadline is gone: no second escalation
    assert len([e for e in env.state.outbox if isinstance(e, NoticeRequested)]) == 1


async def test_a_merchants_proof_is_a_file_uploaded_to_the_service_order(env: Env) -> None:
    paid = await env.open(DeliveryType.MANUAL_SERVICE)
    who = People.of(paid.payload.parties)
    so_id = f"SO-{paid.order_id}"
    sow = await env.evidence(so_id, who.merchant, "sow", "sow.pdf")
    doc = await env.evidence(so_id, who.merchant, "acceptance_document", "acc.pdf")
    await env.call("POST", f"/service-orders/{so_id}/actions/submit", who.buyer)
    await env.call("POST", f"/service-orders/{so_id}/actions/confirm", who.merchant)
    await env.call(
        "POST", f"/service-orders/{so_id}/actions/deliver", who.merchant, json={"evidence": [sow, doc]}
    )
    path = f"/service-orders/{so_id}/appeals"
    text_only = await env.call(
        "POST", path, who.merchant, expect=422, json={**APPEAL, "attachments": ["delivery proof, see mail"]}
    )
    assert text_only["detail"]["field"] == "attachments"
    other = await env.open()
    foreign = await env.evidence(
        f"SO-{other.order_id}", People.of(other.payload.parties).merchant, "x", "x.pdf"
    )
    await env.call(
        "POST", path, who.merchant, expect=404, json={**APPEAL, "attachments": [foreign["file_id"]]}
    )
    proof = await env.evidence(so_id, who.merchant, "delivery_proof", "signed.pdf")
    so = await env.call(
        "POST", path, who.merchant, expect=201, json={**APPEAL, "attachments": [proof["file_id"]]}
    )
    assert so["status"] == "frozen"
    [entry] = [e for e in so["timeline"] if e["action"] == "appeal"]
    [named] = entry["details"]["evidence"]
    assert named["file_id"] == proof["file_id"]
    assert len(named["sha256"]) == 64
