"""The committed AsyncAPI and OpenAPI documents are what the code generates (regenerate: make contracts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devstack.contracts import render
from tests.access_table import EXEMPT as ACCESS_EXEMPT
from tests.access_table import RULES

DOCS = render()


@pytest.mark.parametrize("path", sorted(DOCS), ids=lambda p: p.name)
def test_committed_contract_matches_the_code(path: Path) -> None:
    assert path.exists(), f"{path.name} is missing: run `make contracts`"
    assert path.read_text() == DOCS[path], f"{path.name} drifted from the code: run `make contracts`"


def test_every_event_a_service_publishes_or_consumes_is_in_its_asyncapi() -> None:
    channels = {
        name.split(".asyncapi")[0]: set(json.loads(text)["channels"])
        for name, text in ((p.name, t) for p, t in DOCS.items())
        if ".asyncapi" in name
    }
    assert {"orders:acceptance.done", "orders:order.paid:out", "orders:account.registered:out"} <= channels[
        "orders"
    ]
    assert {
        "supervision:order.paid",
        "supervision:acceptance.done:out",
        "supervision:appeal.raised:out",
    } <= channels["supervision"]
    assert {
        f"notification:{t}"
        for t in (
            "account.registered",
            "order.paid",
            "milestone.confirmed",
            "appeal.raised",
            "appeal.resolved",
            "acceptance.done",
        )
    } <= channels["notification"]
    assert {"partner:order.paid", "partner:acceptance.done"} <= channels["partner"]


# Open without a token: the access table's exemptions, and the public catalogue reads.
EXEMPT = ACCESS_EXEMPT | {rule.path for rule in RULES if rule.public}


def test_openapi_declares_the_bearer_scheme_on_every_route_but_the_exempt_ones() -> None:
    """/docs can authorize; no route names an account in a header; only the documented exemptions are open."""
    for path, text in DOCS.items():
        if ".openapi" not in path.name:
            continue
        spec = json.loads(text)
        assert {"/healthz", "/readyz", "/asyncapi.json"} <= set(spec["paths"]), path.name
        assert spec["components"]["securitySchemes"]["bearer"] == {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": spec["components"]["securitySchemes"]["bearer"]["description"],
        }, path.name
        assert "X-Account-Id" not in text, path.name
        for route, ops in spec["paths"].items():
            for method, op in ops.items():
                secured = any("bearer" in req for req in op.get("security", []))
                assert secured or route in EXEMPT, (
                    f"{path.name}: {method.upper()} {route} declares no bearer token"
                )
