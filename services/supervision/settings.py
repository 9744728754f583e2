from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.platform.settings import ServiceSettings


class SupervisionSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SUPERVISION_", extra="ignore", frozen=True, populate_by_name=True)

    service_name: str = "supervision"
    http_port: int = Field(8002, ge=1, le=65535)
