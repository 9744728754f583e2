from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.platform.settings import ServiceSettings


class PartnerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PARTNER_", extra="ignore", frozen=True, populate_by_name=True)

    service_name: str = "partner"
    http_port: int = Field(8004, ge=1, le=65535)
    # Ed25519 private key (PEM) that signs providers' private links; orders holds the public half.
    private_link_private_key: str | None = None
