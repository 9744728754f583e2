from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.platform.settings import ServiceSettings


class PartnerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PARTNER_", extra="ignore", frozen=True, populate_by_name=True)

    service_name: str = "partner"
    http_port: int = Field(8004, ge=1, le=65535)
