"""Builds each channel's primary and (optional) secondary provider behind a circuit breaker, from settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import SecretStr

from services.notification.breaker import CircuitBreaker, Failover
from services.notification.channels import EmailMessage, SmsMessage, SmtpSender, TwilioSender
from services.notification.settings import NotificationSettings


def providers(
    s: NotificationSettings,
) -> tuple[Failover[EmailMessage], Failover[SmsMessage], list[Callable[[], Awaitable[None]]]]:
    primary, secondary = s.smtp_relays()
    pool = {
        "pool_size": s.smtp_pool_size,
        "max_messages": s.smtp_session_max_messages,
        "idle_seconds": s.smtp_session_idle_seconds,
    }
    smtp = SmtpSender.of(primary, s.smtp_sender, **pool)
    smtp2 = SmtpSender.of(secondary, s.smtp_sender, **pool) if secondary else None  # its own TLS, credentials
    sms = TwilioSender(
        s.twilio_account_sid,
        s.twilio_auth_token,
        s.twilio_from_number,
        api_base_url=s.twilio_api_base_url,
        connections=s.delivery_concurrency,
    )
    closers: list[Callable[[], Awaitable[None]]] = [sms.close, smtp.close]
    if smtp2 is not None:
        closers.append(smtp2.close)
    sms2 = None
    if s.sms_secondary:  # a second Twilio-compatible provider, same port
        sms2 = TwilioSender(
            s.twilio2_account_sid or s.twilio_account_sid,
            s.twilio2_auth_token if s.twilio2_auth_token is not None else s.twilio_auth_token,
            s.twilio2_from_number or s.twilio_from_number,
            api_base_url=s.twilio2_api_base_url,
            connections=s.delivery_concurrency,
        )
        closers.append(sms2.close)
    return (
        Failover(smtp, smtp2, CircuitBreaker(s.breaker_failures, s.breaker_cooldown_seconds)),
        Failover(sms, sms2, CircuitBreaker(s.breaker_failures, s.breaker_cooldown_seconds)),
        closers,
    )


def auth_tokens(s: NotificationSettings) -> list[SecretStr]:
    """Tokens a status callback may be signed with (primary, then secondary)."""
    return [t for t in (s.twilio_auth_token, s.twilio2_auth_token) if t is not None and t.get_secret_value()]
