"""The committed AsyncAPI and OpenAPI documents are what the code generates (regenerate: make contracts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devstack.contracts import render

DOCS = render()


@pytest.mark.parametrize("path", sorted(DOCS), ids=lambda p: p.name)
def test_committed_contract_matches_the_code(path: Path) -> None:
    assert path.exists(), f"{path.name} is missing: run `make contracts`"
    assert path.read_text() == DOCS[path], f"{path.name} drifted from the code: run `make contracts`"


def test_every_event_a_service_publishes_or_consumes_is_in_its_asyncapi() -> None:
    channels = {name.split(".asyncapi")[0]: set(json.loads(text)["channels"])
                for name, text in ((p.name, t) for p, t in DOCS.items()) if ".asyncapi" in name}
    assert {"orders:acceptance.done", "orders:order.paid:out", "orders:account.registered:out"} <= channels["orders"]
    assert {"supervision:order.paid", "supervision:acceptance.done:out",
            "supervision:appeal.raised:out"} <= channels["supervision"]
    assert {f"notification:{t}" for t in ("account.registered", "order.paid", "milestone.confirmed", "appeal.raised",
                                          "appeal.resolved", "acceptance.done")} <= channels["notification"]
    assert {"partner:order.paid", "partner:acceptance.done"} <= channels["partner"]


def test_openapi_names_the_identity_header_and_health_routes() -> None:
    for path, text in DOCS.items():
        if ".openapi" in path.name:
            spec = json.loads(text)
            assert {"/healthz", "/readyz", "/asyncapi.json"} <= set(spec["paths"]), path.name
            params = [p for ops in spec["paths"].values() for op in ops.values() for p in op.get("parameters", [])]
            assert any(p["name"] == "X-Account-Id" and p["in"] == "header" for p in params), path.name
