"""Paid orders that get no service order, and why: a product that is not supervised (image, API, instant-use
SaaS, dossier §1.2), or an order that is not a new purchase (a renewal creates no new supervision flow, §1.6).
Supervision keeps a marker for each, so a lookup says why there is none, and a refund.decided about such an
order is known to have nothing to close (rather than waiting for a service order that never comes)."""

from __future__ import annotations

from pydantic import BaseModel

from shared.platform.errors import DomainError, NotFound
from shared.schemas import DeliveryType, OrderPaidPayload, OrderType, Parties


class NotSupervised(NotFound):
    code = "not_supervised"


class NoServiceOrder(BaseModel):
    order_id: str
    delivery_type: DeliveryType
    parties: Parties
    order_type: OrderType = "new"  # markers from before renewals were recorded are all unsupervised products

    @staticmethod
    def of(p: OrderPaidPayload) -> NoServiceOrder | None:
        """The marker of an order that opens no service order; None for a supervised new purchase."""
        if p.product.delivery_type.supervised and p.order_type == "new":
            return None
        return NoServiceOrder(
            order_id=p.order_id,
            delivery_type=p.product.delivery_type,
            parties=p.parties,
            order_type=p.order_type,
        )

    def why(self) -> DomainError:
        """The refusal of a lookup of its service order."""
        if not self.delivery_type.supervised:
            return NotSupervised(
                f"order {self.order_id} is for a {self.delivery_type.value} product, which is "
                "not supervised (dossier §1.2): it has no service order"
            )
        return NotFound(
            f"order {self.order_id} is a {self.order_type} order: only a new purchase opens a service "
            "order (dossier §1.6)"
        )
