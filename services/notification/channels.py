"""Channel adapters: email over SMTP (aiosmtplib) and SMS through the Twilio SDK.

Both classify every failure as transient (retry later) or permanent (never retry); the dispatcher decides
what to do with each. Network clients are created lazily, inside the running event loop, never at import.
"""

from __future__ import annotations

import asyncio
import email.message
import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import aiosmtplib
from pydantic import SecretStr
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client as TwilioClient

from services.notification.settings import SmtpRelay


class SendError(Exception):
    """A message could not be handed over to its channel."""


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
    """One SMTP connection per message: notifications are few, and nothing is left open between sends."""

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
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username, password
        self.use_tls, self.start_tls, self.timeout = use_tls, start_tls, timeout

    @classmethod
    def of(cls, relay: SmtpRelay, sender: str) -> SmtpSender:
        """A sender through `relay`, with `sender` as the From of every message."""
        return cls(
            relay.host,
            relay.port,
            sender,
            username=relay.username,
            password=relay.password,
            use_tls=relay.use_tls,
            start_tls=relay.start_tls,
        )

    def build(self, msg: EmailMessage) -> email.message.EmailMessage:
        mime = email.message.EmailMessage()  # policy=default: RFC 2047 encodes non-ASCII headers
        mime["From"] = self.sender
        mime["To"] = msg.to
        mime["Subject"] = msg.subject
        mime["Message-ID"] = msg.message_id
        mime["Date"] = email.utils.format_datetime(datetime.now(UTC))
        mime.set_content(msg.text)
        if msg.html is not None:
            mime.add_alternative(msg.html, subtype="html")  # -> multipart/alternative
        return mime

    async def send(self, msg: EmailMessage) -> str:
        """Returns the server's reply to DATA (e.g. "2.0.0 OK queued as ...")."""
        envelope_from = email.utils.parseaddr(self.sender)[1] or self.sender
        try:
            _, reply = await aiosmtplib.send(
                self.build(msg),
                sender=envelope_from,
                recipients=[msg.to],
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password.get_secret_value() if self.password is not None else None,
                use_tls=self.use_tls,
                start_tls=self.start_tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            error = PermanentSendError if codes and min(codes) >= 500 else TransientSendError
            raise error(f"SMTP recipients refused: {exc}") from exc
        except aiosmtplib.SMTPResponseException as exc:  # sender/DATA/auth/greeting replies
            error = PermanentSendError if exc.code >= 500 else TransientSendError
            raise error(f"SMTP {exc.code}: {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # Connection refused/lost and timeouts; also SMTPNotSupported (e.g. STARTTLS or AUTH not
            # offered), a configuration problem that an operator fixes, after which a retry succeeds.
            raise TransientSendError(f"SMTP {type(exc).__name__}: {exc}") from exc
        return reply


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
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: SecretStr,
        from_number: str,
        api_base_url: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.account_sid, self.from_number = account_sid, from_number
        self._auth_token = auth_token
        self.api_base_url = api_base_url.rstrip("/") if api_base_url else None
        self.timeout = timeout
        self._http: AsyncTwilioHttpClient | None = None
        self._client: TwilioClient | None = None

    def _twilio(self) -> TwilioClient:
        if self._client is None:  # first use, inside the running loop: aiohttp binds its session to it
            self._http = AsyncTwilioHttpClient(timeout=self.timeout)
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
