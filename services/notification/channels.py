"""Channel adapters: email over SMTP (aiosmtplib) and SMS through the Twilio SDK.

Both classify every failure as transient (retry later) or permanent (never retry); the dispatcher decides
what to do with each. Network clients are created lazily, inside the running event loop, never at import, and
shared by all sends: a small pool of long-lived SMTP sessions, one HTTP connection pool for Twilio. Both are
closed at shutdown, after the dispatcher drained its sends.
"""

from __future__ import annotations

import asyncio
import email.message
import email.utils
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

import aiohttp
import aiosmtplib
from aiosmtplib.email import flatten_message
from pydantic import SecretStr
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client as TwilioClient

from services.notification.settings import SmtpRelay

log = logging.getLogger("notification.channels")


class SendError(Exception):
    """A message could not be handed over to its channel."""

    provider = "primary"  # which provider refused it (breaker.Failover marks the secondary's)


class TransientSendError(SendError):
    """Worth retrying later: connection refused, timeouts, SMTP 4xx, HTTP 5xx/429."""


class PermanentSendError(SendError):
    """Retrying cannot help: SMTP 5xx (e.g. recipient refused), HTTP 4xx other than 429."""


@dataclass(frozen=True)
class EmailMessage:
    to: str
    subject: str
    text: str
    html: str | None
    message_id: str  # "<delivery-id@koo-suite.local>": stable per delivery, so a resend keeps it


class SmtpSender:
    """Sends over a small pool of long-lived SMTP sessions, many messages per session.

    At most `pool_size` sessions are open; a message waits for a free one. A session is used for at most
    `max_messages` messages and is closed once idle for `idle_seconds` (the server would drop it anyway),
    so a session is always fairly fresh. One message per session at a time: SMTP is one transaction after the
    other.

    Retried at once, on a fresh session, only what certainly never reached the server: a pooled session that
    turns out dead (the server dropped it while idle) before the message's DATA. Once DATA began the message
    may have been accepted, so a failure there is the delivery's transient failure (retried later, with the
    same Message-ID), never resent on the spot. A session that failed in any way other than a clean refusal
    is closed, not put back. `close` (shutdown) says QUIT to every idle session.
    """

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: SecretStr | None = None,
        use_tls: bool = False,
        start_tls: bool | None = None,
        timeout: float = 10.0,
        pool_size: int = 4,
        max_messages: int = 100,
        idle_seconds: float = 30.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username, password
        self.use_tls, self.start_tls, self.timeout = use_tls, start_tls, timeout
        self.pool_size, self.max_messages, self.idle_seconds = pool_size, max_messages, idle_seconds
        self._idle: list[_Session] = []  # the most recently used last: it is taken first
        self._slots: asyncio.Semaphore | None = None  # created in the running loop
        self.opened = 0  # sessions opened so far (tests and logs)

    @classmethod
    def of(cls, relay: SmtpRelay, sender: str, **pool: Any) -> SmtpSender:
        """A sender through `relay`, with `sender` as the From of every message."""
        return cls(
            relay.host,
            relay.port,
            sender,
            username=relay.username,
            password=relay.password,
            use_tls=relay.use_tls,
            start_tls=relay.start_tls,
            **pool,
        )

    def build(self, msg: EmailMessage) -> email.message.Message:
        """The MIME message: multipart/alternative (text and HTML) or text alone, UTF-8 bodies, a non-ASCII
        subject encoded by RFC 2047. Built with the classic MIME classes: the `email.policy.default` builder
        parsed every header back through the header registry and cost 1.1 ms a message against 0.3 ms here
        (make bench sends thousands)."""
        text = MIMEText(_line_ended(msg.text), "plain", "utf-8")
        mime: email.message.Message = text
        if msg.html is not None:
            mime = MIMEMultipart("alternative")
            mime.attach(text)
            mime.attach(MIMEText(_line_ended(msg.html), "html", "utf-8"))
        mime["From"] = _address(self.sender)
        mime["To"] = _address(msg.to)
        mime["Subject"] = msg.subject if msg.subject.isascii() else Header(msg.subject, "utf-8").encode()
        mime["Message-ID"] = msg.message_id
        mime["Date"] = email.utils.format_datetime(datetime.now(UTC))
        return mime

    async def send(self, msg: EmailMessage) -> str:
        """Returns the server's reply to DATA (e.g. "2.0.0 OK queued as ...")."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.pool_size)
        mime = self.build(msg)
        try:
            async with self._slots:  # waiting for a session is not part of the message's time
                async with asyncio.timeout(self.timeout):
                    session = self._take()
                    if session is not None:
                        try:
                            return await self._transact(session, mime, msg.to)
                        except _NotHandedOver as exc:  # the pooled session was dead: once more, fresh
                            log.info("smtp: a pooled session was gone (%s); on a fresh one", exc.__cause__)
                    return await self._transact(await self._open(), mime, msg.to)
        except _NotHandedOver as exc:
            raise _classified(exc.__cause__ or exc) from exc.__cause__
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise _classified(exc) from exc

    async def _transact(self, session: _Session, mime: email.message.Message, to: str) -> str:
        """One mail transaction on `session`, which goes back to the pool afterwards if it is still sound."""
        smtp, sound = session.smtp, False
        try:
            try:
                options = ["BODY=8BITMIME"] if smtp.supports_extension("8BITMIME") else []
                await smtp.mail(self.envelope_from, options=options)
                await smtp.rcpt(to)
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code != 421:  # a refusal of this message; 421: the server is closing the session
                    sound = await _reset(smtp)
                    raise
                raise _NotHandedOver() from exc
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError) as exc:
                raise _NotHandedOver() from exc
            # Handed over from here: whatever happens now, the server may have accepted the message.
            cte = "8bit" if smtp.supports_extension("8BITMIME") else "7bit"
            response = await smtp.data(flatten_message(mime, cte_type=cte))
            sound = True
            return response.message
        finally:
            session.sent += 1
            session.used_at = time.monotonic()
            if not sound or not smtp.is_connected:
                smtp.close()  # its state is unknown: never reused
            elif session.sent < self.max_messages:
                self._idle.append(session)
            else:
                await _quit(smtp)

    @property
    def envelope_from(self) -> str:
        return email.utils.parseaddr(self.sender)[1] or self.sender

    def _take(self) -> _Session | None:
        """The most recently used idle session that is still worth using; stale ones are closed."""
        while self._idle:
            session = self._idle.pop()
            if time.monotonic() - session.used_at < self.idle_seconds and session.smtp.is_connected:
                return session
            session.smtp.close()  # idle too long: the server has dropped it, or soon will
        return None

    async def _open(self) -> _Session:
        smtp = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password.get_secret_value() if self.password is not None else None,
            use_tls=self.use_tls,
            start_tls=self.start_tls,
            timeout=self.timeout,
        )
        try:
            await smtp.connect()
            try:
                await smtp.ehlo()
            except aiosmtplib.SMTPHeloError:
                await smtp.helo()
        except BaseException:
            smtp.close()
            raise
        self.opened += 1
        return _Session(smtp)

    async def close(self) -> None:
        """QUIT every idle session (shutdown; sends under way were drained before)."""
        idle, self._idle = self._idle, []
        await asyncio.gather(*(_quit(s.smtp) for s in idle))


@dataclass
class _Session:
    smtp: aiosmtplib.SMTP
    sent: int = 0
    used_at: float = field(default_factory=time.monotonic)


class _NotHandedOver(Exception):
    """The session failed before the message's DATA: the server certainly does not have it."""


def _classified(exc: BaseException) -> SendError:
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        error: type[SendError] = PermanentSendError if exc.code >= 500 else TransientSendError
        return error(f"SMTP recipient refused: {exc}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):  # sender/DATA/auth/greeting replies
        error = PermanentSendError if exc.code >= 500 else TransientSendError
        return error(f"SMTP {exc.code}: {exc.message}")
    # Connection refused/lost and timeouts; also SMTPNotSupported (e.g. STARTTLS or AUTH not offered), a
    # configuration problem that an operator fixes, after which a retry succeeds.
    return TransientSendError(f"SMTP {type(exc).__name__}: {exc}")


async def _reset(smtp: aiosmtplib.SMTP) -> bool:
    """RSET after a refused MAIL/RCPT, so the session can take the next message; False if it cannot."""
    try:
        await smtp.rset()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        return False
    return True


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    """Say goodbye if the server still listens; close the connection in any case."""
    try:
        if smtp.is_connected:
            await asyncio.wait_for(smtp.quit(), 2.0)
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        pass
    finally:
        smtp.close()


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str
    status_callback: str | None = None


class TwilioSender:
    """Sends through the official SDK's async client (`messages.create_async`).

    Pointing the SDK elsewhere: every Messages request goes Client -> `client.api` (the `Api` Domain, whose
    public `base_url` attribute is "https://api.twilio.com") -> `Domain.absolute_url` joins `base_url` and
    "/2010-04-01/Accounts/...". Setting `client.api.base_url` is therefore the narrowest supported hook:
    the SDK still builds the path, form body, auth and headers itself, and no URL is rewritten after the
    fact (as a custom http client would have to do for every request). The only other stage that touches
    the host is `ClientBase.get_hostname`, which splices TWILIO_EDGE / TWILIO_REGION into the host name;
    both are cleared for a custom base URL so a stray environment variable cannot mangle "127.0.0.1:port".

    Timeouts: `AsyncTwilioHttpClient` stores its `timeout` but passes the per-request value (None) to
    aiohttp, which means "no timeout at all"; so the whole call is bounded with `asyncio.timeout` here.

    One client and one aiohttp session for every send, its connection pool sized to `connections` (the
    dispatcher's concurrency): aiohttp's default of 100 would quietly queue the sends above it.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: SecretStr,
        from_number: str,
        api_base_url: str | None = None,
        timeout: float = 10.0,
        connections: int = 100,
    ) -> None:
        self.account_sid, self.from_number = account_sid, from_number
        self.connections = connections
        self._auth_token = auth_token
        self.api_base_url = api_base_url.rstrip("/") if api_base_url else None
        self.timeout = timeout
        self._http: AsyncTwilioHttpClient | None = None
        self._client: TwilioClient | None = None

    def _twilio(self) -> TwilioClient:
        if self._client is None:  # first use, inside the running loop: aiohttp binds its session to it
            self._http = AsyncTwilioHttpClient(pool_connections=False, timeout=self.timeout)
            self._http.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.connections, limit_per_host=self.connections)
            )
            client = TwilioClient(
                self.account_sid, self._auth_token.get_secret_value(), http_client=self._http
            )
            if self.api_base_url is not None:
                client.edge = client.region = None
                client.api.base_url = self.api_base_url
            self._client = client
        return self._client

    async def send(self, msg: SmsMessage) -> str:
        """Returns the message SID ("SM...")."""
        params: dict[str, Any] = {"to": msg.to, "from_": self.from_number, "body": msg.body}
        if msg.status_callback:
            params["status_callback"] = msg.status_callback
        try:
            async with asyncio.timeout(self.timeout):
                message = await self._twilio().messages.create_async(**params)
        except (TwilioRestException, TwilioServiceException) as exc:
            error = TransientSendError if exc.status == 429 or exc.status >= 500 else PermanentSendError
            raise error(f"Twilio HTTP {exc.status}: {exc}") from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise TransientSendError(f"Twilio {type(exc).__name__}: {exc}") from exc
        sid: str | None = message.sid
        if not sid:
            raise TransientSendError("Twilio accepted the message but returned no sid")
        return sid

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        self._http = self._client = None


def _line_ended(body: str) -> str:
    """A body ends with a line break, as `EmailMessage.set_content` makes it."""
    return body if body.endswith("\n") else body + "\n"


def _address(value: str) -> str:
    """An address header: a non-ASCII display name encoded by RFC 2047."""
    if value.isascii():
        return value
    name, addr = email.utils.parseaddr(value)
    return email.utils.formataddr((name, addr), charset="utf-8")
