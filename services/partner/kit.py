"""What the buyer (its enterprise admin) sends to the joint-operation Kit syncs (dossier §8.1), bounded as the
dossier's body tables give them. Field names are the dossier's (camelCase): they travel to the merchant as
they are.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

S64 = Annotated[str, Field(min_length=1, max_length=64)]
S128 = Annotated[str, Field(min_length=1, max_length=128)]
S255 = Annotated[str, Field(min_length=1, max_length=255)]
MAX_ORGS = 5000  # [I] the dossier gives no bound for the full department list; one request stays reasonable
MAX_USERS = 10_000  # sent in calls of at most 500 (§8.1)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def wire(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class Tenant(_Body):
    """Tenant sync body (§8.1 [R52]): the enterprise the app is bound to."""

    tenantId: S64
    tenantCode: S64
    name: S255
    domainName: S255


class App(_Body):
    """App sync body (§8.1 [R54]). The client secret is sent plain here and RSA-OAEP encrypted to the
    merchant's
    key before it is stored or leaves; RSA-3072 with OAEP-SHA-256 takes at most 318 bytes, so it is
    bounded."""

    appId: S64
    clientId: S64
    clientSecret: str = Field(min_length=1, max_length=256, pattern=r"^[\x21-\x7e]+$")


class Org(_Body):
    """A department (§8.1 dept syncs [R57][R58])."""

    orgCode: S64
    orgName: S128
    parentCode: S64 | None = None  # empty only at the top level


class User(_Body):
    """User object of the user-auth sync (§8.1 [R55])."""

    userName: S64
    name: S64
    orgCode: S64
    position: S64 | None = None
    employeeCode: S64 | None = None
    employeeType: int | None = Field(None, ge=1, le=4)  # 1 regular, 2 intern, 3 dispatched, 4 outsourced
    role: Literal["user", "admin"]
    enable: Literal["true", "false"]
    mobile: str | None = Field(None, min_length=1, max_length=32)
    email: str | None = Field(None, min_length=3, max_length=128)
    workPlace: S128 | None = None
    entryDate: S64 | None = None


class BindIn(BaseModel):
    tenant: Tenant
    app: App
    orgs: list[Org] = Field(default_factory=list, max_length=MAX_ORGS)


class UsersIn(BaseModel):
    tenant_id: S64
    app_id: S64
    users: list[User] = Field(max_length=MAX_USERS)
    flag: int = Field(1, ge=0, le=3)  # 0 delete, 1 add, 2 modify, 3 cancel authorization


class DepartmentIn(BaseModel):
    tenant_id: S64
    org: Org
    flag: int = Field(1, ge=0, le=2)  # 0 delete, 1 add, 2 modify
