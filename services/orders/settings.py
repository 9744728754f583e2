from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.platform.settings import ServiceSettings


class OrdersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERS_", extra="ignore", frozen=True, populate_by_name=True)

    service_name: str = "orders"
    http_port: int = Field(8001, ge=1, le=65535)
    # Ed25519 public key (PEM) that verifies providers' private links (shared/schemas/links.py).
    private_link_public_key: str | None = None
