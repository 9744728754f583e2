"""Generate each service's AsyncAPI and OpenAPI documents into docs/contracts (committed; tests check
drift)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from devstack.stack import REPO, SERVICES
from shared.platform.kafka import asyncapi_document

OUT = REPO / "docs" / "contracts"
ISSUER = "https://id.example.com/realms/koogallery"  # fixed: the documents must not depend on the machine


def _dump(doc: object) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render() -> dict[Path, str]:
    """The documents as the code describes them now, built with fixed settings so the output is stable."""
    docs: dict[Path, str] = {}
    for name in SERVICES:
        app_module = importlib.import_module(f"services.{name}.app")
        settings_module = importlib.import_module(f"services.{name}.settings")
        settings_cls = next(
            v for k, v in vars(settings_module).items() if k.endswith("Settings") and k != "ServiceSettings"
        )
        app = app_module.create_app(
            settings_cls(
                kafka_bootstrap_servers="kafka:9092",
                mongodb_uri="mongodb://mongo",
                environment="dev",
                oidc_issuer_url=ISSUER,
            )
        )
        asyncapi = asyncapi_document(app.state.asyncapi)
        docs[OUT / f"{name}.asyncapi.json"] = _dump(asyncapi)
        docs[OUT / f"{name}.openapi.json"] = _dump(app.openapi())
    return docs


def write() -> list[Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    written = []
    for path, text in render().items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            written.append(path)
    return written
