"""The fault matrix's HTTP client: a retried POST sends the same Idempotency-Key and the same bytes, a multipart
upload included (its boundary is random each time a body is encoded)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import httpx

from chaos.cluster import Cluster
from devstack.stack import SERVICES, Stack


async def test_a_retried_upload_sends_the_same_key_and_the_same_bytes() -> None:
    seen: list[tuple[str, bytes, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((request.headers["Idempotency-Key"], request.read(), request.headers["Content-Type"]))
        if len(seen) < 3:
            return httpx.Response(503)  # a replica going away: tried again
        return httpx.Response(201, json={"file_id": "EV-1"})

    stack = cast(Stack, SimpleNamespace(urls=lambda service: ["http://a", "http://b"]))
    assert "supervision" in SERVICES
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        cluster = Cluster(stack, http)
        got: Any = await cluster.call(
            "POST",
            "supervision",
            "/service-orders/SO-1/files",
            None,
            expect=201,
            files={"file": ("sow.pdf", b"%PDF-1.7 sow", "application/pdf")},
            data={"kind": "sow"},
        )
    assert got == {"file_id": "EV-1"}
    assert len(seen) == 3
    assert len({key for key, _, _ in seen}) == 1
    assert len({body for _, body, _ in seen}) == 1
    assert len({ctype for _, _, ctype in seen}) == 1
    assert seen[0][2].startswith("multipart/form-data; boundary=")
    assert b"%PDF-1.7 sow" in seen[0][1]
