"""The access table covers every route of the four services, exactly, and the README shows it as it is."""

from __future__ import annotations

import json

from devstack.contracts import OUT
from tests.access_table import EXEMPT, README, RULES, readme_block


def _routes() -> set[tuple[str, str, str]]:
    found = set()
    for path in OUT.glob("*.openapi.json"):
        service = path.name.split(".")[0]
        for route, ops in json.loads(path.read_text())["paths"].items():
            found |= {(service, method.upper(), route) for method in ops if route not in EXEMPT}
    return found


def test_every_route_of_every_service_has_exactly_one_rule() -> None:
    keys = [rule.key for rule in RULES]
    assert len(keys) == len(set(keys))
    assert set(keys) == _routes()


def test_the_readme_shows_the_table_as_the_code_has_it() -> None:
    assert readme_block() in README.read_text(), (
        "README.md's table drifted: run `python -m tests.access_table`"
    )


def test_only_the_catalogue_reads_are_public_and_only_the_payment_system_pays() -> None:
    assert {r.key for r in RULES if r.public} == {
        ("orders", "GET", "/products"),
        ("orders", "GET", "/products/{product_id}"),
        ("supervision", "GET", "/timeline-keys"),  # public keys, like a JWKS
    }
    assert [r.key for r in RULES if "payment" in r.allowed and not r.public] == [
        ("orders", "POST", "/orders/{order_id}/pay")
    ]
    assert all(r.allowed == {"operator"} for r in RULES if r.path.startswith("/operator/"))
