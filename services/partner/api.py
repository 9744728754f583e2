"""HTTP routes: thin adapters onto the use cases."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.partner.services import ProviderLedger, ledger
from shared.platform.errors import Forbidden
from shared.platform.http import AccountId

router = APIRouter(tags=["providers"])


@router.get("/providers/{provider_id}/ledger")
async def provider_ledger(provider_id: str, caller: AccountId, request: Request) -> ProviderLedger:
    """The provider's live ledger: every earning as it accrues, and the running total."""
    if caller != provider_id:
        raise Forbidden("a provider's ledger is visible to that provider only")
    return await ledger(request.app.state.runtime.db, provider_id)
