"""Evidence files: received in chunks with a size limit, typed by their content, stored with their SHA-256
(flow_cases.upload, which also puts them on the timeline), and exported with the timeline so
`python -m services.supervision.verify` can check both offline."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import filetype

from services.supervision.service_order import ServiceOrder
from shared.platform.errors import InvalidInput, TooLarge

EXPORT_FORMAT = "koo-supervision-export/2"  # /2: signed checkpoints and their keys
CHUNK = 64 * 1024
TEXT = "text/plain"
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f\"\\/]")


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 8 * 1024 * 1024
    content_types: frozenset[str] = field(
        default_factory=lambda: frozenset({"application/pdf", "image/png", "image/jpeg", "text/plain"})
    )

    def too_large(self) -> TooLarge:
        return TooLarge(
            f"the file has more than {self.max_bytes} bytes; at most {self.max_bytes} are accepted",
            field="file",
        )

    def content_type(self, data: bytes) -> str:
        """The type the bytes are, by their magic number (never the type the client declared); text has none,
        so it is text only when it decodes as UTF-8 without NULs."""
        detected: str | None = filetype.guess_mime(data)
        if detected in self.content_types:
            return detected
        if TEXT in self.content_types and _is_text(data):
            return TEXT  # e.g. a note that happens to start like a BMP ("BM…"): it is text all the same
        what = f"of type {detected}" if detected else "of no recognised type"
        raise InvalidInput(
            f"the file's content is {what}; accepted: {', '.join(sorted(self.content_types))}", field="file"
        )


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


EXPORTED = ("file_id", "kind", "name", "content_type", "size", "sha256")


async def export(
    so: ServiceOrder,
    files: list[dict[str, Any]],
    content: Callable[[str], Awaitable[bytes]],
    signing: dict[str, Any],
) -> AsyncIterator[bytes]:
    """The export document, written as it goes: the service order, its signed checkpoints with the keys
    (`signing`: checkpoints, signing), then each file read and encoded one at a time, its base64 in pieces
    (multiples of 3 bytes encode to text that joins up), so memory holds one file."""
    head = {"format": EXPORT_FORMAT, "service_order": so.model_dump(mode="json"), **signing}
    yield json.dumps(head, ensure_ascii=False)[:-1].encode() + b', "files": ['
    for n, meta in enumerate(files):
        data = await content(meta["file_id"])
        opening = json.dumps({k: meta[k] for k in EXPORTED}, ensure_ascii=False)[:-1]
        yield (b", " if n else b"") + opening.encode() + b', "content_base64": "'
        for start in range(0, len(data), CHUNK * 3):
            yield base64.b64encode(data[start : start + CHUNK * 3])
        yield b'"}'
    yield b"]}"
