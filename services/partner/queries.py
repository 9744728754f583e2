"""Partner's read side: the lists and detail views the API shows, read straight from the collections (outside
any transaction), as cosmicpython's views.py. Who may see them is reads.py's business."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from services.partner.billing import Bill
from services.partner.calls import MerchantCall
from services.partner.domain import LedgerEntry
from services.partner.license import LicenseCode, LicenseOrder
from services.partner.lists import Position, after
from services.partner.programme import Demand, Offer, ProductTerms, Provider
from shared.platform.collection import Collections, Doc, Sort

M = TypeVar("M", bound=BaseModel)


class PartnerQueries:
    def __init__(self, db: Collections) -> None:
        self.db = db

    async def _one(self, model: type[M], collection: str, key: str) -> M | None:
        doc = await self.db.collection(collection).find_one({"_id": key})
        return None if doc is None else model.model_validate(doc)

    async def _all(self, model: type[M], collection: str, query: Doc, sort: Sort | None = None) -> list[M]:
        docs = await self.db.collection(collection).find(query, sort=sort)
        return [model.model_validate(d) for d in docs]

    async def provider(self, provider_id: str) -> Provider | None:
        return await self._one(Provider, "providers", provider_id)

    async def terms(self, product_id: str) -> ProductTerms | None:
        return await self._one(ProductTerms, "product_terms", product_id)

    async def offer(self, offer_id: str) -> Offer | None:
        return await self._one(Offer, "offers", offer_id)

    async def demand(self, demand_id: str) -> Demand | None:
        return await self._one(Demand, "demands", demand_id)

    async def offers_page(
        self,
        parties: list[Doc] | None,
        status: str | None,
        product_id: str | None,
        at: Position | None,
        limit: int,
    ) -> list[Offer]:
        """Offers newest first (ties by id), strictly after `at`; `parties` are the alternatives a viewer
        sees an offer by (None: operators, every offer). `limit + 1` rows: the extra one says another page
        follows."""
        return await self._page(
            Offer, "offers", "offer_id", parties, {"status": status, "product_ids": product_id}, at, limit
        )

    async def demands_page(
        self, parties: list[Doc] | None, status: str | None, at: Position | None, limit: int
    ) -> list[Demand]:
        """Demands newest first, as offers_page."""
        return await self._page(Demand, "demands", "demand_id", parties, {"status": status}, at, limit)

    async def _page(
        self,
        model: type[M],
        collection: str,
        id_field: str,
        parties: list[Doc] | None,
        filters: dict[str, str | None],
        at: Position | None,
        limit: int,
    ) -> list[M]:
        query: Doc = {k: v for k, v in filters.items() if v is not None}
        if conditions := [
            {"$or": alternatives} for alternatives in (parties, after(at, id_field)) if alternatives
        ]:
            query["$and"] = conditions
        docs = await self.db.collection(collection).find(
            query, sort=[("created_at", -1), (id_field, -1)], limit=limit + 1
        )
        return [model.model_validate(d) for d in docs]

    async def product_ids_of(self, merchant_id: str) -> list[str]:
        """The products a merchant has terms on record for (its products in the selling programme)."""
        docs = await self.db.collection("product_terms").find({"merchant_id": merchant_id})
        return [str(d["product_id"]) for d in docs]

    async def ledger(self, provider_id: str) -> list[LedgerEntry]:
        """The provider's ledger entries, oldest first."""
        return await self._all(LedgerEntry, "ledger", {"provider_id": provider_id}, [("at", 1)])

    async def bills(self, provider_id: str) -> list[Bill]:
        return await self._all(Bill, "bills", {"provider_id": provider_id})

    async def calls(self, merchant_id: str) -> list[MerchantCall]:
        """The merchant's calls, newest first."""
        return await self._all(
            MerchantCall, "merchant_calls", {"merchant_id": merchant_id}, [("created_at", -1)]
        )

    async def license_order(self, order_id: str) -> LicenseOrder | None:
        return await self._one(LicenseOrder, "license_orders", order_id)

    async def license_codes(self, order_id: str) -> list[LicenseCode]:
        """The order's authorization codes, in their order."""
        return await self._all(LicenseCode, "licenses", {"order_id": order_id}, [("seq", 1)])

    async def call(self, call_id: str) -> MerchantCall | None:
        return await self._one(MerchantCall, "merchant_calls", call_id)
