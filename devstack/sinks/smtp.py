"""The SMTP side: an aiosmtpd handler that stores each message, or refuses it with a 4xx while faulty."""

from __future__ import annotations

import asyncio
import email
import email.policy
import uuid
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from devstack.sinks.store import Row, SinkStore, utc_now

FAILING_REPLY = "451 4.3.0 sink is failing on purpose"


def _part_text(msg: EmailMessage, subtype: str) -> str | None:
    part = msg.get_body(preferencelist=(subtype,))
    return None if part is None else str(part.get_content()).replace("\r\n", "\n")


def index_row(raw: bytes, mail_from: str, rcpt_tos: list[str]) -> Row:
    msg = email.message_from_bytes(raw, _class=EmailMessage, policy=email.policy.default)
    return {
        "id": uuid.uuid4().hex,
        "received_at": utc_now().isoformat(),
        "mail_from": mail_from,
        "rcpt_tos": rcpt_tos,
        "subject": str(msg["Subject"] or ""),
        "message_id": str(msg["Message-ID"]) if msg["Message-ID"] else None,
        "text": _part_text(msg, "plain"),
        "html": _part_text(msg, "html"),
    }


class MailHandler:
    """aiosmtpd handler hooks. Recipients in the reserved `.invalid` TLD get a permanent 550."""

    def __init__(self, store: SinkStore) -> None:
        self.store = store

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address.rstrip(">").lower().endswith(".invalid"):
            return f"550 5.1.1 <{address}>: no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # One decision per message (not per recipient), so `fail_next: N` refuses exactly N messages.
        if self.store.smtp_fault.take():
            return FAILING_REPLY
        raw = envelope.original_content or b""
        row = index_row(raw, envelope.mail_from or "", list(envelope.rcpt_tos))
        self.store.add_mail(raw, row)
        return f"250 2.0.0 OK queued as {row['id']}"


async def start_smtp(store: SinkStore, host: str, port: int) -> asyncio.Server:
    """Serve SMTP on the running loop (no Controller thread), sharing state with the HTTP app."""
    handler = MailHandler(store)
    loop = asyncio.get_running_loop()

    def factory() -> Any:
        return SMTP(handler, hostname="sinks.local", enable_SMTPUTF8=True)

    return await loop.create_server(factory, host, port)
