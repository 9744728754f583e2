"""The console's settings: where the identity provider and the four services are, and the session's key.

`OIDC_ISSUER_URL` and `SUITE_ENV` carry no prefix (as in every service); the rest is `CONSOLE_*`. Outside dev
the console refuses to start without its own session key and client secret.
"""

from __future__ import annotations

from typing import Literal

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_CLIENT_SECRET = "dev-console-secret"  # noqa: S105 - the dev realm's (infra/keycloak/realm-koogallery.json)


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CONSOLE_", extra="ignore", frozen=True, populate_by_name=True
    )

    environment: Literal["dev", "production"] = Field("production", validation_alias="SUITE_ENV")
    oidc_issuer_url: str = Field("", validation_alias="OIDC_ISSUER_URL")
    oidc_discovery_url: str = Field(
        "",
        validation_alias="OIDC_DISCOVERY_URL",
        description="Where to read the discovery document when the issuer URL is not reachable from the pod",
    )
    oidc_client_id: str = "koo-console"
    oidc_client_secret: SecretStr = SecretStr(DEV_CLIENT_SECRET)
    oidc_roles_claim: str = Field("realm_access.roles", validation_alias="OIDC_ROLES_CLAIM")
    # Where the browser reaches the console: the OIDC redirect URI and the cookies' Secure flag follow it.
    public_url: str = "http://127.0.0.1:8005"
    # A Fernet key (32 url-safe base64 bytes). Empty in dev: a fresh key per process (sessions end then).
    session_key: SecretStr = SecretStr("")
    session_max_age_seconds: int = Field(8 * 3600, ge=60)
    orders_url: str = "http://127.0.0.1:8001"
    supervision_url: str = "http://127.0.0.1:8002"
    notification_url: str = "http://127.0.0.1:8003"
    partner_url: str = "http://127.0.0.1:8004"
    service_timeout_seconds: float = Field(10.0, gt=0)
    http_host: str = "127.0.0.1"
    http_port: int = Field(8005, ge=1, le=65535)

    @model_validator(mode="after")
    def _fail_fast(self) -> ConsoleSettings:
        if not self.oidc_issuer_url:
            raise ValueError("OIDC_ISSUER_URL is required: the console logs people in there")
        if self.environment == "production":
            if not self.session_key.get_secret_value():
                raise ValueError("CONSOLE_SESSION_KEY is required outside dev (a Fernet key)")
            if self.oidc_client_secret.get_secret_value() == DEV_CLIENT_SECRET:
                raise ValueError("CONSOLE_OIDC_CLIENT_SECRET still has the dev realm's value")
            if not self.public_url.startswith("https://"):
                raise ValueError(
                    "CONSOLE_PUBLIC_URL must be https outside dev (the session cookie is Secure)"
                )
        if self.session_key.get_secret_value():
            Fernet(self.session_key.get_secret_value())  # a malformed key fails here, not at the first login
        return self

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def service_urls(self) -> dict[str, str]:
        return {
            "orders": self.orders_url,
            "supervision": self.supervision_url,
            "notification": self.notification_url,
            "partner": self.partner_url,
        }
