"""Signed checkpoints of the timeline (issue 14, item 11): an untouched export verifies; a chain rewritten whole
(every hash recomputed) and a cut tail (entries dropped after a checkpoint, or the last checkpoint dropped)
fail, though the hash chain alone still verifies for both."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from devstack.stack import Ports, Stack
from services.supervision import checkpoints, store, templates, verify
from services.supervision.checkpoints import TimelineKeys
from services.supervision.queries import SupervisionQueries
from services.supervision.rules import AcceptanceRule, Policy
from services.supervision.service_order import ServiceOrder, TimelineEntry, verify_timeline
from services.supervision.services import SupervisionService, seal
from services.supervision.settings import SupervisionSettings
from shared.platform.fakes import FakeState
from shared.platform.mongo import UnitOfWorkFactory
from shared.schemas import DeliveryType, PartyRole
from shared.schemas.links import new_keypair
from tests.factories import order_paid, parties

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def service(keys: TimelineKeys, every: int = 5) -> SupervisionService:
    state = FakeState()
    return SupervisionService(
        UnitOfWorkFactory(store.fake_uow(state)), keys=keys, checkpoint_every=every, clock=lambda: T0
    )


def grown(sv: SupervisionService, notes: int) -> ServiceOrder:
    """A service order whose timeline got `notes` more entries, one change at a time, sealed after each as the
    use cases do (services.change_in)."""
    event = order_paid(parties(), delivery_type=DeliveryType.MANUAL_SERVICE)
    template = templates.template_for(DeliveryType.MANUAL_SERVICE)
    assert template is not None
    so, _ = ServiceOrder.from_order_paid(
        event.payload, template, AcceptanceRule.MERCHANT_CUSTOM, T0, "corr", Policy()
    )
    for n in range(notes):
        so.log.record(T0 + timedelta(minutes=n), PartyRole.BUYER, "b", "note", so.where, so.node, f"note {n}")
        seal(sv, so)
    return so


def exported(sv: SupervisionService, so: ServiceOrder) -> dict[str, Any]:
    queries = SupervisionQueries(FakeState().collections(), sv.keys, lambda: T0 + timedelta(days=1))
    return {"service_order": so.model_dump(mode="json"), **queries.signing(so), "files": []}


def trusted(keys: TimelineKeys) -> dict[str, str]:
    return verify.trusted_keys({"keys": keys.published()})


def rehash(timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a forger with the database does: recompute every entry's hash and the chain after an edit."""
    prev, out = "0" * 64, []
    for raw in timeline:
        entry = TimelineEntry.model_validate({**raw, "prev_hash": prev})
        entry.hash = entry.digest()
        out.append(entry.model_dump(mode="json"))
        prev = entry.hash
    return out


@pytest.fixture
def keys() -> TimelineKeys:
    return TimelineKeys.generate("k-2026")


def test_a_checkpoint_is_put_on_the_timeline_every_n_entries(keys: TimelineKeys) -> None:
    so = grown(service(keys, every=5), 12)
    marks = [e for e in so.timeline if e.action == checkpoints.ACTION]
    # 1 opening entry + 4 notes = 5 → a checkpoint over them (entry 6); 5 more notes → another (entry 12).
    assert [(e.seq, e.details["count"]) for e in marks] == [(6, 5), (12, 11)]
    assert marks[0].details["head_hash"] == so.timeline[4].hash
    assert marks[0].details["key_id"] == "k-2026"
    assert len(so.timeline) == 1 + 12 + 2  # the opening, the notes, the two checkpoints


def test_an_untouched_export_verifies(keys: TimelineKeys) -> None:
    sv = service(keys)
    export = exported(sv, grown(sv, 12))
    assert [cp["kind"] for cp in export["checkpoints"]] == ["periodic", "periodic", "export"]
    assert export["checkpoints"][-1]["count"] == len(export["service_order"]["timeline"])
    assert export["signing"]["key_id"] == "k-2026"
    assert verify.problems(export, trusted(keys)) == []
    assert verify.problems(export) == []  # the export's own keys: intact, whoever signed it


def test_a_chain_rewritten_whole_fails(keys: TimelineKeys) -> None:
    sv = service(keys)
    export = exported(sv, grown(sv, 12))
    forged = copy.deepcopy(export)
    timeline = forged["service_order"]["timeline"]
    timeline[2]["note"] = "the merchant delivered on time"  # the edit
    forged["service_order"]["timeline"] = rehash(timeline)
    # The hash chain alone is fooled: every hash was recomputed.
    entries = [TimelineEntry.model_validate(e) for e in forged["service_order"]["timeline"]]
    assert verify_timeline(entries) is None
    found = verify.problems(forged, trusted(keys))
    assert any("rewritten" in line for line in found), found

    # Re-signing with a key of the forger's own, shipped in the export, fails against the service's keys.
    theirs = TimelineKeys.generate("k-2026")
    hashes = [e.hash for e in entries]
    so_id = export["service_order"]["service_order_id"]
    forged["checkpoints"] = [theirs.sign("export", so_id, hashes, T0)]
    forged["signing"]["public_keys"] = theirs.public_keys
    assert any("signature does not verify" in line for line in verify.problems(forged, trusted(keys)))


def test_a_cut_tail_fails(keys: TimelineKeys) -> None:
    sv = service(keys)
    export = exported(sv, grown(sv, 12))
    timeline = export["service_order"]["timeline"]

    # Entries dropped after the last periodic checkpoint (entry 12), the export's checkpoint kept.
    cut = copy.deepcopy(export)
    cut["service_order"]["timeline"] = timeline[:12]
    assert verify_timeline([TimelineEntry.model_validate(e) for e in timeline[:12]]) is None
    assert any("cut" in line for line in verify.problems(cut, trusted(keys)))

    # The same cut with the export's checkpoint dropped too: the last one left is periodic.
    cut["checkpoints"] = export["checkpoints"][:-1]
    assert any("does not cover the last entry" in line for line in verify.problems(cut, trusted(keys)))

    # Only the last checkpoint dropped, nothing else.
    dropped = copy.deepcopy(export)
    dropped["checkpoints"] = export["checkpoints"][:-1]
    assert any("does not cover the last entry" in line for line in verify.problems(dropped, trusted(keys)))

    # No checkpoint at all.
    bare = copy.deepcopy(export)
    bare["checkpoints"] = []
    assert verify.problems(bare, trusted(keys))


def test_a_checkpoint_with_an_edited_count_or_an_unknown_key_fails(keys: TimelineKeys) -> None:
    sv = service(keys)
    export = exported(sv, grown(sv, 3))
    edited = copy.deepcopy(export)
    edited["checkpoints"][-1]["count"] -= 1
    assert any("signature does not verify" in line for line in verify.problems(edited, trusted(keys)))
    assert any(
        "not among the trusted" in line
        for line in verify.problems(export, {"other": keys.public_keys["k-2026"]})
    )


def test_retired_keys_still_verify_older_checkpoints(keys: TimelineKeys) -> None:
    old = service(keys)
    so = grown(old, 6)  # a periodic checkpoint signed with k-2026
    rotated = TimelineKeys("k-2027", TimelineKeys.generate().private, {"k-2026": keys.public_keys["k-2026"]})
    export = exported(service(rotated), so)
    assert [cp["key_id"] for cp in export["checkpoints"]] == ["k-2026", "k-2027"]
    assert verify.problems(export, trusted(rotated)) == []
    assert {k["key_id"] for k in rotated.published()} == {"k-2026", "k-2027"}


def test_the_signing_key_comes_from_a_pem_file_or_the_environment(tmp_path: Path, monkeypatch: Any) -> None:
    private, _ = new_keypair()
    path = tmp_path / "timeline.pem"
    path.write_text(private)
    from_file = SupervisionSettings(timeline_private_key_file=path, timeline_key_id="k1").timeline_keys()
    raw = from_file.private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    monkeypatch.setenv("SUPERVISION_TIMELINE_PRIVATE_KEY", base64.b64encode(raw).decode())
    monkeypatch.setenv("SUPERVISION_TIMELINE_KEY_ID", "k1")
    from_env = SupervisionSettings().timeline_keys()
    assert from_env.public_keys == from_file.public_keys
    monkeypatch.delenv("SUPERVISION_TIMELINE_PRIVATE_KEY")
    generated = SupervisionSettings().timeline_keys()  # none configured: one made now (dev, tests)
    assert generated.public_keys["k1"] != from_file.public_keys["k1"]
    assert any("TIMELINE_PRIVATE_KEY" in p for p in SupervisionSettings().production_problems())
    assert not any(
        "TIMELINE_PRIVATE_KEY" in p
        for p in SupervisionSettings(timeline_private_key_file=path).production_problems()
    )


def test_the_dev_stack_keeps_one_signing_key_in_its_state_folder(tmp_path: Path) -> None:
    """Every supervision replica of a dev stack signs with the same key, kept under .devstack/keys, so an
    export made before a restart still verifies after it."""
    stack = Stack(tmp_path, Ports())
    env = stack.env_for("supervision")
    path = Path(env["SUPERVISION_TIMELINE_PRIVATE_KEY_FILE"])
    assert path.parent == tmp_path / "keys"
    first = SupervisionSettings(timeline_private_key_file=path).timeline_keys().public_keys
    assert Path(stack.env_for("supervision")["SUPERVISION_TIMELINE_PRIVATE_KEY_FILE"]) == path
    assert SupervisionSettings(timeline_private_key_file=path).timeline_keys().public_keys == first
