"""The service order: the manual-service standard flow, appeals, and the tamper-evident timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import bson
import pytest
from bson.codec_options import CodecOptions

from services.supervision import flows, templates
from services.supervision.service_order import Evidence, Frozen, ServiceOrder, Status, verify_timeline
from shared.platform.errors import DomainError, Forbidden, InvalidInput
from shared.schemas import (
    AcceptanceDone,
    AppealRaised,
    DeadlineCleared,
    DeadlineScheduled,
    DeliveryType,
    Event,
    MilestoneConfirmed,
    PartyRole,
)
from tests.factories import order_paid, parties, rid

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
DIGEST = "0" * 64  # a stored file's content hash (evidence is always a stored file)
EVIDENCE = [
    Evidence(kind="sow", name="sow.pdf", file_id="EV-sow", sha256=DIGEST),
    Evidence(
        kind="acceptance_document", name="acceptance.pdf", file_id="EV-acceptance_document", sha256=DIGEST
    ),
]
ACTIVATED = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def new_service_order() -> ServiceOrder:
    paid = order_paid(parties())
    return ServiceOrder.open(
        paid.order_id, paid.payload.parties, paid.payload.product, templates.MANUAL_STANDARD, T0
    )


def account(so: ServiceOrder, who: str) -> str:
    return so.parties.buyer_account_id if who == "buyer" else so.parties.merchant_account_id


def flow_events(events: list[Event]) -> list[Event]:
    """The flow's own events; the deadline events every node change also causes are tested on their own."""
    return [e for e in events if not isinstance(e, DeadlineScheduled | DeadlineCleared)]


def do(so: ServiceOrder, who: str, action: str, minutes: int = 1, **kw: object) -> list[object]:
    kw.setdefault("evidence", EVIDENCE if action == "deliver" else None)
    return list(flow_events(so.act(account(so, who), action, T0 + timedelta(minutes=minutes), "corr", **kw)))  # type: ignore[arg-type]


def walk_to(so: ServiceOrder, node: str) -> None:
    steps = {
        "confirm_request": [("buyer", "submit")],
        "deliver": [("buyer", "submit"), ("merchant", "confirm")],
        "accept": [("buyer", "submit"), ("merchant", "confirm"), ("merchant", "deliver")],
    }
    for i, (who, action) in enumerate(steps[node], start=1):
        do(so, who, action, minutes=i)
    assert so.node == node


# --- the standard flow, step by step ------------------------------------------------------------

# (actor, action, node before, node after, events emitted)
STANDARD_WALK = [
    ("buyer", "submit", "submit_request", "confirm_request", []),
    ("merchant", "confirm", "confirm_request", "deliver", [MilestoneConfirmed]),
    ("merchant", "deliver", "deliver", "accept", [MilestoneConfirmed]),
    ("buyer", "accept", "accept", None, [AcceptanceDone]),
]


def test_a_new_service_order_starts_at_the_templates_first_node() -> None:
    so = new_service_order()
    assert so.node == "submit_request"
    assert so.status is Status.ACTIVE
    assert so.service_order_id == f"SO-{so.order_id}"
    assert [e.action for e in so.timeline] == ["open"]
    assert so.timeline[0].details == {"template": "manual_service.standard", "template_version": "2025-03-26"}


def test_the_standard_flow_walks_from_request_to_acceptance() -> None:
    so = new_service_order()
    for minute, (who, action, before, after, emitted) in enumerate(STANDARD_WALK, start=1):
        assert so.node == before, action
        events = do(
            so, who, action, minutes=minute, activation_time=ACTIVATED if action == "deliver" else None
        )
        assert so.node == after, action
        assert [type(e) for e in events] == emitted, action
    assert so.status is Status.COMPLETED
    assert so.completed_at == T0 + timedelta(minutes=4)
    assert [e.action for e in so.timeline] == ["open", "submit", "confirm", "deliver", "accept"]
    assert [e.kind for e in so.evidence] == ["sow", "acceptance_document"]


@pytest.mark.parametrize(
    ("node", "who", "action", "next_node"),
    [
        ("confirm_request", "merchant", "confirm", "deliver"),
        ("deliver", "merchant", "deliver", "accept"),
    ],
)
def test_milestone_confirmed_names_the_node_and_the_next_one(
    node: str, who: str, action: str, next_node: str
) -> None:
    so = new_service_order()
    walk_to(so, node)

    [event] = do(so, who, action, minutes=10)

    assert isinstance(event, MilestoneConfirmed)
    assert event.order_id == so.order_id
    assert event.payload.service_order_id == so.service_order_id
    assert event.payload.node == node
    assert event.payload.next_node == next_node
    assert event.payload.actor_role is PartyRole.MERCHANT
    assert event.payload.actor_account_id == so.parties.merchant_account_id
    assert event.payload.parties == so.parties
    assert event.payload.confirmed_at == T0 + timedelta(minutes=10)


def test_acceptance_done_carries_the_actual_activation_time_from_delivery() -> None:
    so = new_service_order()
    walk_to(so, "deliver")
    do(so, "merchant", "deliver", minutes=5, activation_time=ACTIVATED)

    [event] = do(so, "buyer", "accept", minutes=6)

    assert isinstance(event, AcceptanceDone)
    assert event.payload.actual_activation_time == ACTIVATED
    assert event.payload.accepted_by is PartyRole.BUYER
    assert event.payload.accepted_at == T0 + timedelta(minutes=6)
    assert event.payload.order_id == so.order_id
    assert event.partition_key == so.order_id


def test_acceptance_without_an_activation_time_carries_none() -> None:
    so = new_service_order()
    walk_to(so, "accept")
    [event] = do(so, "buyer", "accept", minutes=9)
    assert isinstance(event, AcceptanceDone)
    assert event.payload.actual_activation_time is None


@pytest.mark.parametrize(
    "given",
    [
        [],
        EVIDENCE[:1],
        EVIDENCE[1:],
        [Evidence(kind="screenshot", name="x.png", file_id="EV-screenshot", sha256=DIGEST)],
    ],
)
def test_delivery_needs_the_sow_and_the_acceptance_document(given: list[Evidence]) -> None:
    so = new_service_order()
    walk_to(so, "deliver")
    with pytest.raises(InvalidInput) as refused:
        do(so, "merchant", "deliver", evidence=given)
    assert refused.value.field == "evidence"
    missing = {"sow", "acceptance_document"} - {e.kind for e in given}
    assert all(kind in refused.value.message for kind in missing)
    assert so.node == "deliver"
    assert so.evidence == []


def test_evidence_that_is_not_a_stored_file_is_refused() -> None:
    so = new_service_order()
    walk_to(so, "deliver")
    named_only = [EVIDENCE[0], Evidence(kind="acceptance_document", name="acceptance.pdf")]
    with pytest.raises(InvalidInput) as refused:
        do(so, "merchant", "deliver", evidence=named_only)
    assert refused.value.field == "evidence[1].file_id"
    assert so.node == "deliver"
    do(so, "merchant", "deliver", evidence=EVIDENCE)
    [entry] = [e for e in so.timeline if e.action == "deliver"]
    assert [(e["file_id"], e["sha256"]) for e in entry.details["evidence"]] == [
        ("EV-sow", DIGEST),
        ("EV-acceptance_document", DIGEST),
    ]


def test_send_back_returns_the_request_to_the_buyer() -> None:
    so = new_service_order()
    walk_to(so, "confirm_request")
    assert do(so, "merchant", "send_back") == []
    assert so.node == "submit_request"
    do(so, "buyer", "submit")
    assert so.node == "confirm_request"


def test_reject_returns_the_delivery_to_the_merchant() -> None:
    so = new_service_order()
    walk_to(so, "accept")
    assert do(so, "buyer", "reject") == []
    assert so.node == "deliver"
    do(so, "merchant", "deliver")
    assert so.node == "accept"


@pytest.mark.parametrize(
    ("node", "wrong", "action"),
    [
        ("submit_request", "merchant", "submit"),
        ("confirm_request", "buyer", "confirm"),
        ("deliver", "buyer", "deliver"),
        ("accept", "merchant", "accept"),
    ],
)
def test_only_the_nodes_actor_may_act(node: str, wrong: str, action: str) -> None:
    so = new_service_order()
    if node != "submit_request":
        walk_to(so, node)
    entries = len(so.timeline)
    with pytest.raises(Forbidden):
        do(so, wrong, action)
    assert so.node == node
    assert len(so.timeline) == entries


def test_a_non_party_may_not_act() -> None:
    so = new_service_order()
    with pytest.raises(Forbidden):
        so.act(rid("stranger"), "submit", T0, "corr")
    assert so.node == "submit_request"


def test_an_unknown_action_lists_the_possible_ones() -> None:
    so = new_service_order()
    walk_to(so, "confirm_request")
    with pytest.raises(InvalidInput) as refused:
        do(so, "merchant", "approve")
    assert refused.value.field == "action"
    assert "confirm" in refused.value.message
    assert "send_back" in refused.value.message


# --- appeals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["buyer", "merchant"])
def test_an_appeal_by_either_party_freezes_the_service_order(who: str) -> None:
    so = new_service_order()
    walk_to(so, "deliver")

    [event] = flow_events(
        so.raise_appeal(account(so, who), "no answer for a week", "refund", ["chat.png"], T0, "corr")
    )

    assert so.status is Status.FROZEN
    assert so.open_appeal is not None
    assert so.open_appeal.raised_by_role.value == who
    assert isinstance(event, AppealRaised)
    assert event.payload.node == "deliver"
    assert event.payload.raised_by_account_id == account(so, who)
    assert event.payload.attachments == ["chat.png"]
    assert so.timeline[-1].action == "appeal"
    for node in templates.MANUAL_STANDARD.nodes.values():
        for action in node.actions:
            for actor in ("buyer", "merchant"):
                with pytest.raises(Frozen) as refused:
                    do(so, actor, action)
                assert refused.value.code == "frozen_by_appeal"
    assert so.node == "deliver"


def test_a_second_appeal_is_refused_while_one_is_open() -> None:
    so = new_service_order()
    so.raise_appeal(so.parties.buyer_account_id, "late", "refund", [], T0, "corr")
    first = so.open_appeal
    with pytest.raises(Frozen):
        so.raise_appeal(so.parties.merchant_account_id, "buyer unreachable", "complete", [], T0, "corr")
    assert so.open_appeal == first


def test_a_non_party_may_not_appeal() -> None:
    so = new_service_order()
    with pytest.raises(Forbidden):
        so.raise_appeal(rid("stranger"), "x", "y", [], T0, "corr")
    assert so.status is Status.ACTIVE


def test_a_completed_service_order_refuses_acts_and_appeals() -> None:
    so = new_service_order()
    walk_to(so, "accept")
    do(so, "buyer", "accept", minutes=9)
    with pytest.raises(DomainError, match="already completed") as refused:
        do(so, "buyer", "accept")
    assert not isinstance(refused.value, Frozen)
    with pytest.raises(DomainError, match="already completed"):
        so.raise_appeal(so.parties.buyer_account_id, "late", "refund", [], T0, "corr")
    assert so.status is Status.COMPLETED


# --- the timeline hash chain --------------------------------------------------------------------


def completed_service_order() -> ServiceOrder:
    so = new_service_order()
    walk_to(so, "accept")
    do(so, "buyer", "accept", minutes=9, note="all good")
    return so


def test_an_untouched_timeline_verifies() -> None:
    so = completed_service_order()
    assert len(so.timeline) == 5
    assert [e.seq for e in so.timeline] == [1, 2, 3, 4, 5]
    assert verify_timeline(so.timeline) is None


def test_the_timeline_still_verifies_after_a_json_round_trip() -> None:
    so = completed_service_order()
    again = ServiceOrder.model_validate_json(so.model_dump_json())
    assert verify_timeline(again.timeline) is None


@pytest.mark.parametrize("index", range(4))
@pytest.mark.parametrize(
    ("field", "forged"),
    [
        ("note", "edited afterwards"),
        ("at", T0 - timedelta(days=1)),
        ("action", "accept"),
    ],
)
def test_editing_an_earlier_entry_is_detected_at_that_entry(index: int, field: str, forged: object) -> None:
    so = completed_service_order()
    tampered = list(so.timeline)
    tampered[index] = tampered[index].model_copy(update={field: forged})

    assert verify_timeline(tampered) == so.timeline[index].seq


def test_removing_an_entry_breaks_the_chain_at_the_next_one() -> None:
    so = completed_service_order()
    tampered = so.timeline[:2] + so.timeline[3:]
    assert verify_timeline(tampered) == so.timeline[3].seq


def test_a_forged_entry_rehashed_on_its_own_is_caught_by_its_successor() -> None:
    so = completed_service_order()
    tampered = list(so.timeline)
    forged = tampered[1].model_copy(update={"note": "forged"})
    forged.hash = forged.digest()
    tampered[1] = forged
    assert verify_timeline(tampered) == so.timeline[2].seq


def test_the_timeline_still_verifies_after_a_bson_round_trip() -> None:
    so = completed_service_order()
    for i, entry in enumerate(so.timeline):  # real clocks have microseconds; the fixed test clock does not
        entry.at = entry.at.replace(microsecond=123456)
        entry.prev_hash = so.timeline[i - 1].hash if i else entry.prev_hash
        entry.hash = entry.digest()
    assert verify_timeline(so.timeline) is None
    stored = bson.decode(bson.encode(so.model_dump()), codec_options=CodecOptions(tz_aware=True))

    assert verify_timeline(ServiceOrder.model_validate(stored).timeline) is None


# --- templates are snapshotted ------------------------------------------------------------------


def test_a_service_order_keeps_the_template_it_started_with(monkeypatch: pytest.MonkeyPatch) -> None:
    so = new_service_order()
    stored = so.model_dump_json()
    v2 = templates.MANUAL_STANDARD.model_copy(
        update={
            "version": "2099-01-01",
            "nodes": {
                **templates.MANUAL_STANDARD.nodes,
                "submit_request": templates.MANUAL_STANDARD.nodes["submit_request"].model_copy(
                    update={"actions": {"submit": flows.Transition(to="accept")}}
                ),
            },
        }
    )
    monkeypatch.setitem(templates.TEMPLATES, DeliveryType.MANUAL_SERVICE, v2)
    assert templates.template_for(DeliveryType.MANUAL_SERVICE) is v2

    loaded = ServiceOrder.model_validate_json(stored)
    do(loaded, "buyer", "submit")

    assert loaded.template.version == "2025-03-26"
    assert loaded.node == "confirm_request"
