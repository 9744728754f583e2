"""Evidence files at the edge: typed by their magic bytes against the allow-list, received in chunks under the
size limit with their SHA-256, exported one file at a time as one JSON document; and the erased contact."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from services.supervision import evidence, templates
from services.supervision.evidence import Limits, TooLarge
from services.supervision.rules import AcceptanceRule, Policy
from services.supervision.service_order import ServiceOrder, masked_phone
from services.supervision.settings import SupervisionSettings
from shared.platform.errors import InvalidInput
from shared.platform.http import status_of
from shared.schemas import DeliveryContact, DeliveryType
from tests.factories import order_paid, parties

DEFAULT = Limits(
    content_types=frozenset(SupervisionSettings(oidc_issuer_url="https://id.test").evidence_content_types)
)
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _zip(*names: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name in names:
            z.writestr(name, "<x/>")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"%PDF-1.7 statement of work", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 16, "image/jpeg"),
        (_zip("logs/a.txt"), "application/zip"),
        (
            _zip("[Content_Types].xml", "_rels/.rels", "word/document.xml"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            _zip("[Content_Types].xml", "_rels/.rels", "xl/workbook.xml"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        ("验收说明: delivered".encode(), "text/plain"),
    ],
)
def test_each_accepted_type_is_recognised_by_its_content(data: bytes, expected: str) -> None:
    assert DEFAULT.content_type(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        b"MZ\x90\x00\x03" + b"\x00" * 60,
        b"GIF89a\x01\x00\x01\x00" + b"\x00" * 8,
        b"\xca\xfe\xba\xbe\x00\x00",
        b"text\x00NUL",
    ],
)
def test_other_content_is_refused_naming_the_field(data: bytes) -> None:
    with pytest.raises(InvalidInput) as refused:
        DEFAULT.content_type(data)
    assert refused.value.field == "file"


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_an_upload_is_hashed_as_it_comes_and_stopped_at_the_limit() -> None:
    limits = Limits(max_bytes=10, content_types=frozenset({"text/plain"}))
    received = await evidence.receive(_chunks(b"hello ", b"you"), limits)
    assert (received.size, received.sha256, received.content_type) == (
        9,
        hashlib.sha256(b"hello you").hexdigest(),
        "text/plain",
    )
    pulled: list[bytes] = []

    async def endless() -> AsyncIterator[bytes]:
        while True:
            pulled.append(b"12345")
            yield b"12345"

    with pytest.raises(TooLarge) as refused:
        await evidence.receive(endless(), limits)
    assert (status_of(refused.value), refused.value.field) == (413, "file")
    assert len(pulled) == 3  # the third chunk passed the limit; nothing after it was asked for
    with pytest.raises(InvalidInput, match="empty"):
        await evidence.receive(_chunks(), limits)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ('a"b\r\n.pdf', "a_b__.pdf"),
        ("C:\\x\\scan.png", "scan.png"),
        ("", "file"),
        (None, "file"),
        ("x" * 300 + ".pdf", "x" * 255),
    ],
)
def test_the_file_name_is_a_label_only(given: str | None, kept: str) -> None:
    assert evidence.safe_name(given) == kept


def _service_order() -> ServiceOrder:
    event = order_paid(parties(), delivery_type=DeliveryType.HARDWARE)
    p = event.payload.model_copy(
        update={"delivery_contact": DeliveryContact(name="Li", phone="+8613811110001", address="Shenzhen")}
    )
    template = templates.template_for(DeliveryType.HARDWARE, None)
    assert template is not None
    so, _ = ServiceOrder.from_order_paid(p, template, AcceptanceRule.MERCHANT_CUSTOM, T0, "corr", Policy())
    return so


async def test_the_export_streams_one_file_at_a_time_into_one_json_document() -> None:
    so = _service_order()
    big, small = bytes(range(256)) * 1000, b"%PDF small"  # big spans several base64 pieces
    stored = {"EV-1": big, "EV-2": small}
    metas = [
        {
            "file_id": k,
            "kind": "sow",
            "name": f"{k}.pdf",
            "content_type": "application/pdf",
            "size": len(v),
            "sha256": hashlib.sha256(v).hexdigest(),
            "uploaded_by": "x",
        }
        for k, v in stored.items()
    ]
    asked: list[str] = []

    async def content(file_id: str) -> bytes:
        asked.append(file_id)
        return stored[file_id]

    signing = {"checkpoints": [{"kind": "export"}], "signing": {"key_id": "k1"}}
    pieces = [piece async for piece in evidence.export(so, metas, content, signing)]
    assert len(pieces) > 6
    doc = json.loads(b"".join(pieces))
    assert doc["format"] == evidence.EXPORT_FORMAT
    assert (doc["checkpoints"], doc["signing"]) == (signing["checkpoints"], signing["signing"])
    assert doc["service_order"]["service_order_id"] == so.service_order_id
    assert [base64.b64decode(f["content_base64"]) for f in doc["files"]] == [big, small]
    assert "uploaded_by" not in doc["files"][0]
    assert asked == ["EV-1", "EV-2"]


def test_erasing_the_contact_masks_the_phone_once_and_keeps_the_timeline() -> None:
    so = _service_order()
    timeline = [e.hash for e in so.timeline]
    assert so.erase_contact(T0)
    assert so.delivery_phone == "***01"
    assert so.contact_erased_at == T0
    assert not so.erase_contact(T0)
    assert [e.hash for e in so.timeline] == timeline
    assert masked_phone("+86 138-1111-0042") == "***42"
