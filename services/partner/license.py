"""License products (dossier §2.2), pure: the License 2.0 authorization code (授权码) and its lifecycle,
and the License 1.0 identifiers (系统识别码 / 硬件识别码). No I/O; the use cases are license_cases.py and
license_open.py.

A code's state is a function of what happened to it and of the time, so no timer has to fire for it to freeze:
- issued (未激活): generated for a paid License resource, shown to the buyer;
- active: the merchant's software activated it (open API), bound to one device / instance;
- frozen: its validity ended; a renewal within the grace period unfreezes it (validity moved on);
- released: the grace period passed without a renewal, or the order was unsubscribed (refund approved).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from shared.platform.errors import DomainError, InvalidInput

State = Literal["issued", "active", "frozen", "released"]

# Crockford's base-32 alphabet: no I, L, O, U, so a code read aloud or typed from a screen has no look-alikes.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
GROUPS, GROUP_LEN = (
    5,
    5,
)  # XXXXX-XXXXX-XXXXX-XXXXX-XXXXC: 24 random characters (120 bits) and a check character
CODE_PATTERN = re.compile(rf"^[{ALPHABET}]{{{GROUP_LEN}}}(-[{ALPHABET}]{{{GROUP_LEN}}}){{{GROUPS - 1}}}$")
# [I] Dossier §8.2.5 [R103]: "License products should keep a 15-day freeze period with data retained". §2.2.a
# names a grace period before the freeze and a retention period before the release without their lengths; we
# read them as one period: frozen at expiry, released 15 days later unless renewed (settings can change it).
GRACE_DAYS = 15


class LicenseError(DomainError):
    """A refusal of the open API, with its result code (dossier §2.2.a names the APIs but not their codes:
    these are ours, in the style of the open API's `MKT.*` codes, §8.2.9)."""

    def __init__(self, result_code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field, rule=result_code)
        self.result_code = result_code


class LicenseReleased(LicenseError):
    def __init__(self, code_id: str) -> None:
        super().__init__("LIC.0103", f"code {code_id} is released and can no longer be used")


def _check_char(body: str) -> str:
    """A weighted sum modulo 32 over the 24 random characters: catches any one mistyped character and any swap
    of two neighbours."""
    total = sum((i + 1) * ALPHABET.index(c) for i, c in enumerate(body))
    return ALPHABET[total % len(ALPHABET)]


def new_code() -> str:
    """A fresh authorization code from the operating system's CSPRNG (`secrets`), grouped for reading."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_LEN - 1))
    raw = body + _check_char(body)
    return "-".join(raw[i : i + GROUP_LEN] for i in range(0, len(raw), GROUP_LEN))


def normalise_code(typed: str) -> str:
    """A code as typed: case and surrounding blanks do not matter; its format and check character do (a 422
    naming `code`, before any lookup, so a typo never reads as "not found")."""
    code = typed.strip().upper()
    if not CODE_PATTERN.match(code):
        raise InvalidInput(
            "not an authorization code: five groups of five characters, e.g. 7K3QX-…", field="code"
        )
    raw = code.replace("-", "")
    if _check_char(raw[:-1]) != raw[-1]:
        raise InvalidInput(
            "the authorization code has a typo (its check character does not match)", field="code"
        )
    return code


def code_id(code: str) -> str:
    """The code's public reference in events, logs and lists of others: its last group only."""
    return f"LIC-…{code[-GROUP_LEN:]}"


class LicenseCode(BaseModel):
    """One License 2.0 authorization code: one per purchased License resource (§2.2.a)."""

    code: str
    order_id: str  # the new-purchase order; renewals of it move `valid_until`
    seq: int = Field(ge=1)  # which of the order's resources
    buyer_id: str
    merchant_id: str
    product_id: str
    issued_at: AwareDatetime
    activated_at: AwareDatetime | None = None  # the actual activation time (§10)
    device_id: str | None = None
    device_info: dict[str, str] = Field(default_factory=dict)
    last_seen_at: AwareDatetime | None = None
    heartbeats: int = 0
    usage: dict[str, str] = Field(default_factory=dict)  # the last usage report, as the software sent it
    valid_until: AwareDatetime | None = None  # None: the order's validity is not known yet (no end)
    released_at: AwareDatetime | None = None
    release_reason: str | None = None
    version: int = 0

    def state(self, now: datetime, grace_days: int = GRACE_DAYS) -> State:
        if self.released_at is not None and self.released_at <= now:
            return "released"
        if self.valid_until is not None and now >= self.valid_until:
            return "released" if now >= self.valid_until + timedelta(days=grace_days) else "frozen"
        return "active" if self.activated_at is not None else "issued"

    def releases_at(self, grace_days: int = GRACE_DAYS) -> datetime | None:
        """When the code is released if nobody renews it (or when it was released)."""
        if self.released_at is not None:
            return self.released_at
        return None if self.valid_until is None else self.valid_until + timedelta(days=grace_days)

    # --- the merchant's software (open API) -------------------------------------------------------------
    def activate(self, device_id: str, info: dict[str, str], now: datetime, grace_days: int) -> bool:
        """Bind the code to the device and set the actual activation time. True when this call activated it;
        the same device activating again is answered as before (idempotent), another device is refused."""
        state = self.state(now, grace_days)
        if state == "released":
            raise LicenseReleased(code_id(self.code))
        if self.activated_at is not None:
            if self.device_id != device_id:
                raise LicenseError(
                    "LIC.0104", f"code {code_id(self.code)} is already activated on another device"
                )
            return False
        if state == "frozen":
            raise LicenseError("LIC.0102", f"code {code_id(self.code)} is frozen: its validity has ended")
        # In milliseconds, as the database keeps it: the answer, the event and the record say the same time.
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        self.activated_at, self.device_id, self.device_info = now, device_id, info
        self.last_seen_at = now
        return True

    def heartbeat(self, device_id: str, usage: dict[str, str], now: datetime, grace_days: int) -> State:
        """The software in use reports (usage statistics / heartbeat): last seen now; the answer is the state,
        so a frozen code's software can lock itself."""
        state = self.state(now, grace_days)
        if state == "released":
            raise LicenseReleased(code_id(self.code))
        if self.activated_at is None:
            raise LicenseError("LIC.0105", f"code {code_id(self.code)} is not activated")
        if self.device_id != device_id:
            raise LicenseError(
                "LIC.0106", f"code {code_id(self.code)} is bound to another device", field="device_id"
            )
        self.last_seen_at, self.heartbeats, self.usage = now, self.heartbeats + 1, usage
        return state

    # --- the order's lifecycle (events) -----------------------------------------------------------------
    def extend(self, valid_until: datetime, now: datetime, grace_days: int) -> tuple[State, State]:
        """The order's validity (its acceptance, or a renewal): (state before, state after). A renewal within
        the grace period unfreezes the code; a released code stays released (its renewal cannot revive it)."""
        before = self.state(now, grace_days)
        if before != "released" and (self.valid_until is None or valid_until > self.valid_until):
            self.valid_until = valid_until
        return before, self.state(now, grace_days)

    def release(self, now: datetime, reason: str) -> bool:
        """Unsubscribed (refund approved): released at once. Idempotent: True the first time."""
        if self.released_at is not None and self.released_at <= now:
            return False
        self.released_at, self.release_reason = now, reason
        return True


# --- License 1.0: the system or hardware identifier (§2.2.b) ----------------------------------------------

IdentifierKind = Literal["system", "hardware"]
# [I] The dossier says only that the buyer types a hardware identifier (硬件识别码) and is responsible for it.
# What a licensing tool prints as a device fingerprint: a MAC address, a disk or board serial, a hex digest,
# a UUID: letters, digits and the separators - : . _, 8 to 128 characters, starting with a letter or digit.
HARDWARE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._-]{7,127}$")


def check_hardware_identifier(value: str) -> str:
    """The buyer's hardware identifier, trimmed; refused (422 naming the field) when it cannot be a
    fingerprint: a wrong alphabet or length, or a placeholder (one character repeated, e.g. 00:00:00:00)."""
    typed = value.strip()
    if not HARDWARE_PATTERN.match(typed):
        raise InvalidInput(
            "a hardware identifier is 8-128 letters, digits or - : . _ (e.g. a MAC address or a serial)",
            field="hardware_identifier",
        )
    significant = {c for c in typed.upper() if c not in ":._-"}
    if len(significant) < 2:
        raise InvalidInput(
            "a hardware identifier cannot be one character repeated", field="hardware_identifier"
        )
    return typed


def new_system_identifier() -> str:
    """§2.2.b: the system identifier is generated, unique, and needs no typing: 128 random bits."""
    return "SID-" + secrets.token_hex(16).upper()


class LicenseOrder(BaseModel):
    """A paid License order as partner keeps it: a License 2.0 order (its codes are documents of their
    own), a License 1.0 order (the identifier and the License the merchant delivered for it), or a renewal of
    one."""

    order_id: str
    kind: Literal["code", "identifier"]
    root_order_id: str  # itself, or the order a renewal renews
    buyer_id: str
    merchant_id: str
    product_id: str
    quantity: int = 1
    identifier_kind: IdentifierKind | None = None
    identifier: str | None = None
    identifier_at: AwareDatetime | None = None
    request_id: str | None = None  # getLicense's request id: one per order, so every retry asks the same
    license: str | None = None  # what the merchant delivered (a key, or a file's content, base64)
    license_at: AwareDatetime | None = None
    version: int = 0

    def submit_identifier(self, kind: IdentifierKind, hardware: str | None, now: datetime) -> bool:
        """The buyer's one submission; the same again is answered as before, another one is refused (the
        merchant delivers for the first). True when this call recorded it."""
        if self.kind != "identifier":
            raise DomainError(f"order {self.order_id} is not a License 1.0 order", field="order_id")
        if kind == "hardware" and not hardware:
            raise InvalidInput("a hardware identifier is required", field="hardware_identifier")
        if kind == "system" and hardware:
            raise InvalidInput("a system identifier is generated; send none", field="hardware_identifier")
        typed = check_hardware_identifier(hardware) if hardware else None
        if self.identifier is not None:
            if self.identifier_kind == kind and (kind == "system" or self.identifier == typed):
                return False
            raise DomainError(f"order {self.order_id} already has its {self.identifier_kind} identifier")
        self.identifier_kind, self.identifier_at = kind, now
        self.identifier = typed if typed else new_system_identifier()
        self.request_id = f"GL-{self.order_id}"
        return True

    def deliver(self, license: str, now: datetime) -> bool:
        """The merchant's License for the request; the first one stays (the same request id always returns the
        same License). True when this call recorded it."""
        if self.license is not None:
            return False
        self.license, self.license_at = license, now
        return True
