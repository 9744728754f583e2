"""Custom resources' JSON schemas, made from the operators' CustomResourceDefinitions and kept in the repo.

`make k8s-check` validates offline, so each CRD's `openAPIV3Schema` is converted once into a JSON schema file
under `deploy/schemas/<group>/<kind>_<version>.json` (`python -m devstack.k8s_schemas <crd.yaml>...`; the
sources and versions are recorded in deploy/schemas/README.md). The conversion makes the schema strict the way
the API server is: an object that declares its properties gets `additionalProperties: false` (the server
prunes or, with `kubectl --validate=strict`, refuses unknown fields), unless the CRD says
`x-kubernetes-preserve-unknown-fields`. `nullable` becomes a null type and `x-kubernetes-int-or-string` an
integer-or-string type. Descriptions are dropped: they are most of a CRD's size and none of its rules.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "deploy" / "schemas"
_DROPPED = ("description", "x-kubernetes-validations", "x-kubernetes-list-type", "x-kubernetes-list-map-keys")


def strict(node: Any) -> Any:
    """A copy of an OpenAPI v3 schema node as a strict JSON schema (draft 4: OpenAPI 3.0's keywords)."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        extension = key.startswith("x-kubernetes-") and key != "x-kubernetes-preserve-unknown-fields"
        if key in _DROPPED or extension:
            continue
        if key == "properties":
            out[key] = {name: strict(child) for name, child in value.items()}
        elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
            out[key] = strict(value)
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["type"] = ["integer", "string"]
    if node.get("nullable") and "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
    out.pop("nullable", None)
    preserve = out.pop("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    return out


def from_crd(crd: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Each served version's schema of a CRD, by (group, version, kind)."""
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    schemas = {}
    for version in crd["spec"]["versions"]:
        if not version.get("served", True):
            continue
        schema = strict(version["schema"]["openAPIV3Schema"])
        schema.setdefault("properties", {})
        # Every object names itself and has metadata, whatever the CRD spells out.
        schema["properties"]["apiVersion"] = {"enum": [f"{group}/{version['name']}"]}
        schema["properties"]["kind"] = {"enum": [kind]}
        schema["properties"].setdefault("metadata", {"type": "object"})
        schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
        schema["$schema"] = "http://json-schema.org/draft-04/schema#"
        schemas[(group, version["name"], kind)] = schema
    return schemas


def schema_path(group: str, version: str, kind: str) -> Path:
    return SCHEMAS / group / f"{kind.lower()}_{version}.json"


def write(crd_files: list[Path]) -> list[Path]:
    written = []
    for path in crd_files:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            for (group, version, kind), schema in from_crd(doc).items():
                target = schema_path(group, version, kind)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n", encoding="utf-8")
                written.append(target)
    return written


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m devstack.k8s_schemas <crd.yaml>...", file=sys.stderr)
        return 2
    for target in write([Path(a) for a in argv]):
        print(target.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
