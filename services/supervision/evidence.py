"""Evidence files: received in chunks with a size limit, typed by their content, stored with their SHA-256,
recorded in the timeline, and exported with the timeline so `python -m services.supervision.verify` can check
both offline."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import filetype

from services.supervision.domain import ServiceOrder
from services.supervision.records import Evidence
from shared.platform.errors import InvalidInput, NotFound, TooLarge

if TYPE_CHECKING:
    from services.supervision.store import SupervisionUnitOfWork

EXPORT_FORMAT = "koo-supervision-export/1"
CHUNK = 64 * 1024
TEXT = "text/plain"
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f\"\\/]")


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 8 * 1024 * 1024
    content_types: frozenset[str] = field(default_factory=lambda: frozenset({"application/pdf", "image/png",
                                                                            "image/jpeg", "text/plain"}))

    def too_large(self) -> TooLarge:
        return TooLarge(f"the file has more than {self.max_bytes} bytes; at most {self.max_bytes} are accepted",
                        field="file")

    def content_type(self, data: bytes) -> str:
        """The type the bytes are, by their magic number (never the type the client declared); text has none,
        so it is text only when it decodes as UTF-8 without NULs."""
        detected: str | None = filetype.guess_mime(data)
        if detected in self.content_types:
            return detected
        if TEXT in self.content_types and _is_text(data):
            return TEXT  # e.g. a note that happens to start like a BMP ("BM…"): it is text all the same
        what = f"of type {detected}" if detected else "of no recognised type"
        raise InvalidInput(f"the file's content is {what}; accepted: {', '.join(sorted(self.content_types))}",
                           field="file")


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True)
class Received:
    data: bytes
    sha256: str
    content_type: str

    @property
    def size(self) -> int:
        return len(self.data)


async def receive(chunks: AsyncIterator[bytes], limits: Limits) -> Received:
    """Read an upload chunk by chunk, hashing as it comes, and stop as soon as it passes the limit."""
    digest, data = hashlib.sha256(), bytearray()
    async for chunk in chunks:
        if len(data) + len(chunk) > limits.max_bytes:
            raise limits.too_large()
        digest.update(chunk)
        data += chunk
    if not data:
        raise InvalidInput("the file is empty", field="file")
    return Received(bytes(data), digest.hexdigest(), limits.content_type(bytes(data)))


def safe_name(filename: str | None) -> str:
    """The client's file name as a label only: no path, no control characters or quotes, at most 255 long."""
    name = _UNSAFE_NAME.sub("_", (filename or "").replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return name[:255] or "file"


async def store(uow: SupervisionUnitOfWork, so: ServiceOrder, account_id: str, operator: bool, kind: str,
                name: str, upload: Received, now: datetime) -> dict[str, Any]:
    """Keep the bytes and their digest; the timeline entry makes the upload part of the tamper-evident record."""
    role = so.role_of(account_id, operator)
    meta = {"file_id": f"EV-{uuid.uuid4().hex[:16]}", "service_order_id": so.service_order_id, "kind": kind,
            "name": name, "content_type": upload.content_type, "size": upload.size, "sha256": upload.sha256,
            "uploaded_by": account_id, "uploaded_at": now}
    await uow.files.add({**meta, "data": upload.data})
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


EXPORTED = ("file_id", "kind", "name", "content_type", "size", "sha256")


async def export(so: ServiceOrder, files: list[dict[str, Any]],
                 content: Callable[[str], Awaitable[bytes]]) -> AsyncIterator[bytes]:
    """The export document, written as it goes: the service order, then each file read and encoded one at a
    time, its base64 in pieces (multiples of 3 bytes encode to text that joins up), so memory holds one file."""
    head = {"format": EXPORT_FORMAT, "service_order": so.model_dump(mode="json")}
    yield json.dumps(head, ensure_ascii=False)[:-1].encode() + b', "files": ['
    for n, meta in enumerate(files):
        data = await content(meta["file_id"])
        opening = json.dumps({k: meta[k] for k in EXPORTED}, ensure_ascii=False)[:-1]
        yield (b", " if n else b"") + opening.encode() + b', "content_base64": "'
        for start in range(0, len(data), CHUNK * 3):
            yield base64.b64encode(data[start:start + CHUNK * 3])
        yield b'"}'
    yield b"]}"
