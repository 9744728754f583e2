"""Mailpit and the SMS sink as real processes, driven by the real channel adapters (aiosmtplib, Twilio SDK).

The adapters are built as the service builds them (`providers`), from the notification service's own settings
on the session's stack: its dev-default Twilio credentials (a SecretStr, read only when the SDK client is made)
are the ones the SMS sink accepts. SMTP faults are Mailpit's chaos triggers (`devstack.mailbox`)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import pytest
from aiohttp import web
from pydantic import SecretStr
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from devstack.mailbox import Mail, Mailbox
from devstack.procs import free_port, port_open
from services.notification.channels import (
    EmailMessage,
    PermanentSendError,
    SmsMessage,
    SmtpSender,
    TransientSendError,
    TwilioSender,
)
from services.notification.providers import providers
from services.notification.settings import NotificationSettings
from tests import factories as f
from tests.conftest import Infra
from tests.helpers import Sinks, start_sinks

pytestmark = pytest.mark.integration

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "dev-token"
FROM_NUMBER = "+15005550006"
SENDER = "KooGallery 通知 <notify@koo-suite.local>"


@pytest.fixture(scope="module")
def sinks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sinks]:
    root = tmp_path_factory.mktemp("sinks")
    running = start_sinks(root / "data", root / "logs")
    yield running
    running.stop()


@pytest.fixture
async def api(sinks: Sinks) -> AsyncIterator[httpx.AsyncClient]:
    """The SMS sink's HTTP API."""
    async with httpx.AsyncClient(base_url=sinks.url, timeout=5.0) as client:
        yield client
        (await client.post("/_control/reset")).raise_for_status()


@pytest.fixture
async def mailbox(sinks: Sinks) -> AsyncIterator[Mailbox]:
    async with sinks.mailbox() as box:
        yield box
        await box.reset_faults()


@pytest.fixture(scope="module")
def notification(infra: Infra, sinks: Sinks) -> NotificationSettings:
    """The service's settings on the stack, pointed at this module's Mailpit and SMS sink (no topic: no namespace)."""
    s = f.settings(
        NotificationSettings,
        infra,
        "sinks",
        smtp_port=sinks.smtp_port,
        twilio_api_base_url=sinks.url,
        smtp_sender=SENDER,
    )
    assert (s.twilio_account_sid, s.twilio_auth_token.get_secret_value(), s.twilio_from_number) == (
        ACCOUNT_SID,
        AUTH_TOKEN,
        FROM_NUMBER,
    )  # the dev defaults are what the sink accepts
    return s


@pytest.fixture
async def senders(notification: NotificationSettings) -> AsyncIterator[tuple[SmtpSender, TwilioSender]]:
    email, sms, closers = providers(notification)
    assert isinstance(email.primary, SmtpSender)
    assert isinstance(sms.primary, TwilioSender)
    yield email.primary, sms.primary
    for close in closers:
        await close()


@pytest.fixture
def smtp(senders: tuple[SmtpSender, TwilioSender]) -> SmtpSender:
    return senders[0]


@pytest.fixture
def twilio(senders: tuple[SmtpSender, TwilioSender]) -> TwilioSender:
    return senders[1]


async def eventually(
    fetch: Callable[[], Awaitable[Any]], ok: Callable[[Any], bool], within: float = 5.0
) -> Any:
    """Poll `fetch` until `ok(result)`; return the last result either way (the caller asserts on it)."""
    deadline = time.monotonic() + within
    while True:
        result = await fetch()
        if ok(result) or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)


def mailbox_address() -> str:
    return f"buyer-{uuid.uuid4().hex[:10]}@example.com"


def phone() -> str:
    return "+86138" + "".join(secrets.choice("0123456789") for _ in range(8))


def email_for(
    to: str, subject: str = "订单 KG-1001 已支付", html: str | None = "<p>您的订单<b>已支付</b></p>"
) -> EmailMessage:
    return EmailMessage(
        to=to,
        subject=subject,
        text="您好，订单已支付。\nThanks.",
        html=html,
        message_id=f"<{uuid.uuid4().hex}@koo-suite.local>",
    )


async def mail_to(mailbox: Mailbox, to: str) -> list[Mail]:
    return await mailbox.messages(to, full=True)


async def sms_to(api: httpx.AsyncClient, to: str) -> list[dict[str, Any]]:
    response = await api.get("/sms", params={"to": to})
    response.raise_for_status()
    rows: list[dict[str, Any]] = response.json()
    return rows


# --- email ---------------------------------------------------------------------------------------------


async def test_email_arrives_with_chinese_subject_text_html_and_message_id(
    mailbox: Mailbox, smtp: SmtpSender
) -> None:
    to = mailbox_address()
    msg = email_for(to)
    reply = await smtp.send(msg)
    assert reply.startswith("2.0.0 Ok: queued as ")

    rows = await eventually(lambda: mail_to(mailbox, to), lambda rows: len(rows) == 1)
    assert len(rows) == 1
    row = rows[0]
    assert row.subject == "订单 KG-1001 已支付"
    assert row.message_id == msg.message_id
    assert row.text == "您好，订单已支付。\nThanks.\n"
    assert row.html == "<p>您的订单<b>已支付</b></p>\n"
    assert row.to == [to]
    assert row.sender == "notify@koo-suite.local"
    assert reply.endswith(row.id)

    # The message as received is the real multipart/alternative message with the display-name sender.
    parsed = email.message_from_bytes(await mailbox.raw(row.id), policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["From"] == SENDER
    assert parsed["Date"] is not None


async def test_text_only_email_has_no_html(mailbox: Mailbox, smtp: SmtpSender) -> None:
    to = mailbox_address()
    await smtp.send(email_for(to, subject="Plain ASCII subject", html=None))
    rows = await eventually(lambda: mail_to(mailbox, to), lambda rows: len(rows) == 1)
    assert [(r.subject, r.html) for r in rows] == [("Plain ASCII subject", None)]
    assert "Thanks." in (rows[0].text or "")


async def test_an_smtp_outage_is_transient_stores_nothing_and_recovers(
    mailbox: Mailbox, smtp: SmtpSender
) -> None:
    to = mailbox_address()
    msg = email_for(to)
    await mailbox.smtp_outage()
    for _ in range(2):
        with pytest.raises(TransientSendError) as caught:
            await smtp.send(msg)
        assert isinstance(caught.value.__cause__, aiosmtplib.SMTPResponseException)
        assert caught.value.__cause__.code == 451
    assert await mail_to(mailbox, to) == []

    await mailbox.smtp_outage(False)
    await smtp.send(msg)  # the resend keeps the delivery's Message-ID
    rows = await eventually(lambda: mail_to(mailbox, to), lambda rows: len(rows) == 1)
    assert [r.message_id for r in rows] == [msg.message_id]


async def test_smtp_refused_recipient_is_permanent(mailbox: Mailbox, smtp: SmtpSender) -> None:
    to = mailbox_address()
    await mailbox.refuse_recipients(550)
    with pytest.raises(PermanentSendError) as caught:
        await smtp.send(email_for(to))
    assert isinstance(caught.value.__cause__, aiosmtplib.SMTPRecipientRefused)
    assert await mail_to(mailbox, to) == []


async def test_mailbox_lists_one_address_exactly_over_pages(
    mailbox: Mailbox, smtp: SmtpSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mailpit's search matches substrings; the client keeps only the address asked for, oldest first, and reads
    every page."""
    monkeypatch.setattr("devstack.mailbox.PAGE", 2)
    to = mailbox_address()
    sent = [email_for(to, subject=f"mail {i}") for i in range(3)]
    for msg in sent:
        await smtp.send(msg)
    await smtp.send(email_for("x" + to))
    await eventually(lambda: mail_to(mailbox, "x" + to), lambda rows: len(rows) == 1)
    rows = await mailbox.messages(to)
    assert [(r.subject, r.message_id, r.to) for r in rows] == [(m.subject, m.message_id, [to]) for m in sent]


# --- SMS -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("您的订单 KG-1001 已支付，感谢使用。", 1),
        ("订单" * 35, 1),  # 70 UCS-2 characters: one SMS
        ("订单" * 35 + "。", 2),  # 71: split into 67-character parts
        ("x" * 160, 1),  # GSM-7
        ("x" * 161, 2),
        ("{x}" * 60, 2),  # braces are GSM-7 extension characters and count twice: 240 septets
    ],
)
async def test_sms_arrives_with_segments_and_sid(
    api: httpx.AsyncClient, twilio: TwilioSender, body: str, segments: int
) -> None:
    to = phone()
    sid = await twilio.send(SmsMessage(to=to, body=body))
    assert re.fullmatch(r"SM[0-9a-f]{32}", sid)

    rows = await eventually(lambda: sms_to(api, to), lambda rows: len(rows) == 1)
    assert [(r["id"], r["to"], r["from"], r["body"], r["num_segments"]) for r in rows] == [
        (sid, to, FROM_NUMBER, body, segments)
    ]
    assert rows[0]["account_sid"] == ACCOUNT_SID

    fetched = await api.get(
        f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json", auth=(ACCOUNT_SID, AUTH_TOKEN)
    )
    assert fetched.status_code == 200
    assert fetched.json()["num_segments"] == str(segments)


@pytest.mark.parametrize("status", [503, 429])
async def test_sms_fault_is_transient_then_recovers(
    api: httpx.AsyncClient, twilio: TwilioSender, status: int
) -> None:
    to = phone()
    (await api.post("/_control/sms", json={"fail_next": 1, "status": status})).raise_for_status()
    with pytest.raises(TransientSendError) as caught:
        await twilio.send(SmsMessage(to=to, body="支付成功"))
    assert isinstance(caught.value.__cause__, TwilioRestException)
    assert caught.value.__cause__.status == status
    assert await sms_to(api, to) == []

    sid = await twilio.send(SmsMessage(to=to, body="支付成功"))
    assert [r["id"] for r in await sms_to(api, to)] == [sid]


async def test_sms_bad_to_is_permanent(api: httpx.AsyncClient, twilio: TwilioSender) -> None:
    with pytest.raises(PermanentSendError) as caught:
        await twilio.send(SmsMessage(to="13800138000", body="no country code"))
    cause = caught.value.__cause__
    assert isinstance(cause, TwilioRestException)
    assert (cause.status, cause.code) == (400, 21211)
    assert await sms_to(api, "13800138000") == []


async def test_messages_api_rejects_missing_auth_and_empty_body(api: httpx.AsyncClient) -> None:
    url = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    form = {"To": phone(), "From": FROM_NUMBER, "Body": "hi"}
    no_auth = await api.post(url, data=form)
    wrong_account = await api.post(url, data=form, auth=("AC" + "1" * 32, AUTH_TOKEN))
    empty = await api.post(url, data={**form, "Body": ""}, auth=(ACCOUNT_SID, AUTH_TOKEN))
    assert (no_auth.status_code, no_auth.json()["code"]) == (401, 20003)
    assert wrong_account.status_code == 401
    assert (empty.status_code, empty.json()["code"]) == (400, 21602)
    assert set(empty.json()) == {"code", "message", "more_info", "status"}
    unknown = await api.get(f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/SM{'0' * 32}.json")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == 20404


async def test_status_callback_reports_sent_then_delivered(
    api: httpx.AsyncClient, twilio: TwilioSender
) -> None:
    received: list[tuple[dict[str, str], str]] = []

    async def callback(request: web.Request) -> web.Response:
        form = await request.post()
        received.append(({k: str(v) for k, v in form.items()}, request.headers.get("X-Twilio-Signature", "")))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/twilio/status", callback)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}/twilio/status"
    try:
        to = phone()
        sid = await twilio.send(SmsMessage(to=to, body="已发货", status_callback=url))

        async def statuses() -> list[str]:
            return [form["MessageStatus"] for form, _ in received]

        assert await eventually(statuses, lambda s: "delivered" in s) == ["sent", "delivered"]
    finally:
        await runner.cleanup()

    validator = RequestValidator(AUTH_TOKEN)
    for form, signature in received:
        assert (form["MessageSid"], form["AccountSid"], form["To"], form["From"]) == (
            sid,
            ACCOUNT_SID,
            to,
            FROM_NUMBER,
        )
        assert validator.validate(url, form, signature)
    fetched = await api.get(
        f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json", auth=(ACCOUNT_SID, AUTH_TOKEN)
    )
    assert fetched.json()["status"] == "delivered"
    assert (await sms_to(api, to))[0]["status_callback"] == url


# --- both ----------------------------------------------------------------------------------------------


async def test_connection_refused_is_transient_for_both_senders() -> None:
    port = free_port()  # nothing listens here
    assert not port_open(port)
    with pytest.raises(TransientSendError):
        await SmtpSender("127.0.0.1", port, SENDER, timeout=3.0).send(email_for(mailbox_address()))
    twilio = TwilioSender(
        ACCOUNT_SID, SecretStr(AUTH_TOKEN), FROM_NUMBER, api_base_url=f"http://127.0.0.1:{port}", timeout=3.0
    )
    try:
        with pytest.raises(TransientSendError) as caught:
            await twilio.send(SmsMessage(to=phone(), body="hi"))
        assert isinstance(caught.value.__cause__, OSError)
    finally:
        await twilio.close()


async def test_listings_clear_and_index_page_escapes(
    api: httpx.AsyncClient, mailbox: Mailbox, smtp: SmtpSender, twilio: TwilioSender
) -> None:
    to = mailbox_address()
    await smtp.send(email_for(to, subject="<script>alert(1)</script>"))
    await twilio.send(SmsMessage(to=phone(), body="a < b & c"))
    page = (await eventually(lambda: api.get("/"), lambda r: "a &lt; b" in r.text)).text
    assert "a &lt; b &amp; c" in page
    assert "<script>" not in page
    assert [m.subject for m in await eventually(lambda: mail_to(mailbox, to), bool)] == [
        "<script>alert(1)</script>"
    ]

    await mailbox.delete_all()
    assert (await api.delete("/sms")).status_code == 204
    assert await mailbox.messages() == []
    assert (await api.get("/sms")).json() == []
    assert (await api.get("/healthz")).json() == {"status": "ok"}


async def test_sinks_exit_cleanly_on_sigterm(tmp_path: Path) -> None:
    own = start_sinks(tmp_path / "data", tmp_path / "logs", name="sinks-sigterm")
    twilio = TwilioSender(ACCOUNT_SID, SecretStr(AUTH_TOKEN), FROM_NUMBER, api_base_url=own.url, timeout=3.0)
    try:
        await SmtpSender("127.0.0.1", own.smtp_port, SENDER, timeout=3.0).send(email_for(mailbox_address()))
        await twilio.send(SmsMessage(to=phone(), body="hi"))
    finally:
        await twilio.close()
        sms_code, mail_code = (
            own.sms.stop(timeout=10),
            own.mailpit.proc.stop(timeout=10) if own.mailpit.proc else None,
        )
    assert (sms_code, mail_code) == (0, 0), own.sms.tail()
    assert not port_open(own.smtp_port)
    assert not port_open(int(own.sms.extra["port"]))
    [row] = [json.loads(line) for line in (tmp_path / "data" / "sms.jsonl").read_text("utf-8").splitlines()]
    assert row["body"] == "hi"
