"""Evidence files: uploaded with size and type limits, stored with their SHA-256, recorded in the timeline, and
exported with the timeline so `python -m services.supervision.verify` can check both offline."""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from services.supervision.domain import ServiceOrder
from services.supervision.records import Evidence
from shared.platform.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from services.supervision.store import SupervisionUnitOfWork

EXPORT_FORMAT = "koo-supervision-export/1"


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 8 * 1024 * 1024
    content_types: frozenset[str] = field(default_factory=lambda: frozenset({"application/pdf", "image/png",
                                                                            "image/jpeg", "text/plain"}))

    def check(self, content_type: str, size: int) -> None:
        if content_type not in self.content_types:
            raise InvalidInput(f"files of type {content_type!r} are not accepted; accepted: "
                               f"{', '.join(sorted(self.content_types))}", field="file")
        if size > self.max_bytes:
            raise InvalidInput(f"the file has {size} bytes; at most {self.max_bytes} are accepted", field="file")
        if size == 0:
            raise InvalidInput("the file is empty", field="file")


async def store(uow: SupervisionUnitOfWork, so: ServiceOrder, account_id: str, operator: bool, kind: str,
                name: str, content_type: str, data: bytes, now: datetime) -> dict[str, Any]:
    """Keep the bytes and their digest; the timeline entry makes the upload part of the tamper-evident record."""
    role = so.role_of(account_id, operator)
    meta = {"file_id": f"EV-{uuid.uuid4().hex[:16]}", "service_order_id": so.service_order_id, "kind": kind,
            "name": name, "content_type": content_type, "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "uploaded_by": account_id, "uploaded_at": now}
    await uow.files.add({**meta, "data": data})
    so.record_upload(role, account_id, now, {k: meta[k] for k in ("file_id", "kind", "name", "size", "sha256")})
    return meta


async def resolve(uow: SupervisionUnitOfWork, so_id: str, evidence: list[Evidence]) -> list[Evidence]:
    """Evidence that names an uploaded file takes that file's digest (the caller cannot claim another one)."""
    out = []
    for item in evidence:
        if item.file_id is None:
            out.append(item)
            continue
        doc = await uow.files.get(item.file_id)
        if doc is None or doc["service_order_id"] != so_id:
            raise NotFound(f"file {item.file_id} is not attached to service order {so_id}")
        out.append(item.model_copy(update={"sha256": doc["sha256"]}))
    return out


def export(so: ServiceOrder, docs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"format": EXPORT_FORMAT, "service_order": so.model_dump(mode="json"),
            "files": [{"file_id": d["file_id"], "kind": d["kind"], "name": d["name"],
                       "content_type": d["content_type"], "size": d["size"], "sha256": d["sha256"],
                       "content_base64": base64.b64encode(d["data"]).decode()} for d in docs]}
