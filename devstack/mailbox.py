"""What Mailpit received, and SMTP faults on demand: the client the tests, the bench, the demo and the chaos
harness use (Mailpit's REST API, `/api/v1`).

    async with Mailbox(stack.mail_url) as mailbox:
        mails = await mailbox.messages(to="buyer@example.com", full=True)   # oldest first
        await mailbox.smtp_outage()       # every MAIL FROM answered 451 (a transient refusal) ...
        await mailbox.smtp_outage(False)  # ... until turned off again

Faults use Mailpit's chaos triggers: each SMTP stage (MAIL FROM, RCPT TO, AUTH) answers a given code with a
given probability (0-100), so an outage is probability 100 and a flaky server anything below.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

PAGE = 500


@dataclass(frozen=True)
class Mail:
    id: str  # Mailpit's id of the stored message
    message_id: str | None  # the Message-ID header, with its angle brackets
    subject: str
    sender: str  # the From address
    to: list[str]  # the To addresses
    received_at: datetime
    text: str | None = None  # the text and HTML parts (line ends as "\n"): only with `full=True`
    html: str | None = None

    @classmethod
    def parse(cls, row: dict[str, Any]) -> Mail:
        mid = row.get("MessageID") or None
        if mid and not mid.startswith("<"):
            mid = f"<{mid}>"
        text, html = row.get("Text"), row.get("HTML")
        return cls(
            id=row["ID"],
            message_id=mid,
            subject=row.get("Subject") or "",
            sender=(row.get("From") or {}).get("Address", ""),
            to=[a["Address"] for a in row.get("To") or []],
            received_at=datetime.fromisoformat(row["Created"] if "Created" in row else row["Date"]),
            text=text.replace("\r\n", "\n") if text else None,
            html=html.replace("\r\n", "\n") if html else None,
        )


class Mailbox:
    def __init__(self, url: str, http: httpx.AsyncClient | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._own = http is None
        self.http = http or httpx.AsyncClient(timeout=timeout)

    async def __aenter__(self) -> Mailbox:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own:
            await self.http.aclose()

    async def _json(self, method: str, path: str, **kw: Any) -> Any:
        resp = await self.http.request(method, f"{self.url}/api/v1{path}", **kw)
        resp.raise_for_status()
        return (
            resp.json()
            if resp.content and resp.headers.get("content-type", "").startswith("application/json")
            else None
        )

    # --- messages ---------------------------------------------------------------------------------------
    async def messages(self, to: str | None = None, *, full: bool = False) -> list[Mail]:
        """Every message (to one address: exactly, case-insensitively), oldest first. `full` also reads each
        message's text and HTML (one more request per message)."""
        rows: list[dict[str, Any]] = []
        while True:
            params: dict[str, Any] = {"start": len(rows), "limit": PAGE}
            if to is None:
                page = await self._json("GET", "/messages", params=params)
            else:
                page = await self._json("GET", "/search", params={**params, "query": f'to:"{to}"'})
            rows += page["messages"]
            if not page["messages"] or len(rows) >= page["messages_count"]:  # the count of all that match
                break
        if to is not None:  # the search matches substrings: a@x.com also finds aa@x.com
            wanted = to.lower()
            rows = [r for r in rows if any(a["Address"].lower() == wanted for a in r.get("To") or [])]
        rows.reverse()  # Mailpit lists the newest first
        if full:
            return [await self.message(r["ID"]) for r in rows]
        return [Mail.parse(r) for r in rows]

    async def message(self, mail_id: str) -> Mail:
        """One message with its text and HTML parts."""
        return Mail.parse(await self._json("GET", f"/message/{mail_id}"))

    async def raw(self, mail_id: str) -> bytes:
        """The message as it was received (RFC 5322 source)."""
        resp = await self.http.get(f"{self.url}/api/v1/message/{mail_id}/raw")
        resp.raise_for_status()
        return resp.content

    async def delete_all(self) -> None:
        await self._json("DELETE", "/messages", json={"IDs": []})

    # --- SMTP faults ------------------------------------------------------------------------------------
    async def chaos(self) -> dict[str, Any]:
        """The triggers in force: {"Sender": {"ErrorCode": 451, "Probability": 0}, "Recipient": ..., ...}."""
        triggers: dict[str, Any] = await self._json("GET", "/chaos")
        return triggers

    async def smtp_faults(
        self,
        *,
        sender: tuple[int, int] = (451, 0),
        recipient: tuple[int, int] = (451, 0),
        authentication: tuple[int, int] = (535, 0),
    ) -> dict[str, Any]:
        """Set every trigger: (SMTP reply code, probability 0-100) at MAIL FROM, at RCPT TO and at AUTH."""
        body = {
            stage: {"ErrorCode": code, "Probability": chance}
            for stage, (code, chance) in (
                ("Sender", sender),
                ("Recipient", recipient),
                ("Authentication", authentication),
            )
        }
        triggers: dict[str, Any] = await self._json("PUT", "/chaos", json=body)
        return triggers

    async def smtp_outage(self, on: bool = True, code: int = 451) -> None:
        """An SMTP server refusing every message at MAIL FROM (451: try again later), or back to normal."""
        await self.smtp_faults(sender=(code, 100 if on else 0))

    async def refuse_recipients(self, code: int = 550) -> None:
        """Every RCPT TO refused (550: no such mailbox, a permanent refusal) until `reset_faults`."""
        await self.smtp_faults(recipient=(code, 100))

    async def reset_faults(self) -> None:
        await self.smtp_faults()
