"""notification's settings: secrets are SecretStr, production refuses dev-default secrets and SMTP without TLS,
and the per-address SMS limit is on unless a deployment turns it off."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from services.notification.providers import auth_tokens, providers
from services.notification.settings import NotificationSettings
from shared.platform.settings import InsecureConfiguration

PRODUCTION: dict[str, Any] = {
    "oidc_issuer_url": "https://id.example.com/realms/koogallery",
    "kafka_security_protocol": "SASL_SSL",
    "kafka_password": "a-real-kafka-secret",
    "smtp_start_tls": True,
    "smtp_password": "a-real-smtp-secret",
    "twilio_auth_token": "a-real-twilio-token",
}


@pytest.fixture(autouse=True)
def production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUITE_ENV", "production")


def test_the_default_settings_are_refused_in_production() -> None:
    with pytest.raises(InsecureConfiguration, match="OIDC_ISSUER_URL is not set"):
        NotificationSettings().check()
    s = NotificationSettings(oidc_issuer_url="http://127.0.0.1:8080/realms/koogallery")
    assert s.environment == "production"
    with pytest.raises(InsecureConfiguration) as refused:
        s.check()
    for problem in (
        "OIDC_ISSUER_URL must be an https URL",
        "KAFKA_SECURITY_PROTOCOL must be SASL_SSL",
        "NOTIFICATION_TWILIO_AUTH_TOKEN is empty or a dev default",
        "SMTP without TLS",
    ):
        assert problem in str(refused.value)


def test_a_proper_production_configuration_starts() -> None:
    s = NotificationSettings(**PRODUCTION)
    assert s.production_problems() == []
    s.check()
    assert (
        NotificationSettings(
            **(PRODUCTION | {"smtp_start_tls": None, "smtp_use_tls": True})
        ).production_problems()
        == []
    )


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"twilio_auth_token": "dev-token"}, "NOTIFICATION_TWILIO_AUTH_TOKEN is empty or a dev default"),
        ({"twilio_auth_token": ""}, "NOTIFICATION_TWILIO_AUTH_TOKEN is empty or a dev default"),
        ({"smtp_start_tls": None}, "SMTP without TLS"),  # opportunistic STARTTLS can be stripped
        ({"smtp_start_tls": False}, "SMTP without TLS"),
        ({"smtp2_host": "smtp2.example.com"}, "secondary SMTP without TLS"),
        (
            {"twilio2_api_base_url": "https://sms2.example.com", "twilio2_auth_token": "dev-token"},
            "NOTIFICATION_TWILIO2_AUTH_TOKEN is empty or a dev default",
        ),
        ({"kafka_password": "dev-secret"}, "NOTIFICATION_KAFKA_PASSWORD is empty or a dev default"),
    ],
)
def test_each_dev_default_is_refused_outside_dev(change: dict[str, Any], problem: str) -> None:
    s = NotificationSettings(**(PRODUCTION | change))
    assert any(problem in p for p in s.production_problems()), s.production_problems()
    with pytest.raises(InsecureConfiguration, match=problem):
        s.check()


def test_a_configured_secondary_with_its_own_secrets_passes() -> None:
    s = NotificationSettings(
        **(
            PRODUCTION
            | {
                "smtp2_host": "smtp2.example.com",
                "smtp2_use_tls": True,
                "twilio2_api_base_url": "https://sms2.example.com",
                "twilio2_auth_token": "another-real-token",
            }
        )
    )
    assert s.production_problems() == []


def test_dev_accepts_the_local_sinks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUITE_ENV", "dev")
    NotificationSettings(oidc_issuer_url="http://127.0.0.1:8080/realms/koogallery").check()


def test_secrets_are_secret_strings_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFICATION_TWILIO_AUTH_TOKEN", "tw-secret-from-env")
    s = NotificationSettings(
        **{k: v for k, v in PRODUCTION.items() if k != "twilio_auth_token"},
        twilio2_api_base_url="https://sms2.example.com",
        twilio2_auth_token="tw2-secret",
        smtp2_host="smtp2.example.com",
        smtp2_password="smtp2-secret",
    )
    for name in ("smtp_password", "smtp2_password", "twilio_auth_token", "twilio2_auth_token"):
        assert isinstance(getattr(s, name), SecretStr), name
    shown = repr(s) + s.model_dump_json()
    for secret in ("tw-secret-from-env", "tw2-secret", "smtp2-secret", "a-real-smtp-secret"):
        assert secret not in shown
    assert [t.get_secret_value() for t in auth_tokens(s)] == ["tw-secret-from-env", "tw2-secret"]
    email, sms, _ = providers(s)  # the senders take the secrets as they are and read them when they connect
    assert sms.secondary is not None
    assert email.secondary is not None


def test_the_per_address_sms_limit_is_on_by_default() -> None:
    s = NotificationSettings()
    assert s.rate_limit_sms == 5
    assert s.rate_limit_window_seconds == 60.0
    assert (
        NotificationSettings(rate_limit_sms=0).rate_limit_sms == 0
    )  # a test or a bench turns it off explicitly
