"""Invoice requests (发票申请, dossier §6.3 "general-product invoice request", category 901): the buyer of a
paid order asks its merchant for an invoice, with the title and taxpayer id. Pure.

The merchant issues the invoice outside the marketplace; here the request is kept and the merchant told. One
request per order: [I] the dossier describes no flow for changing a request, so a second one is refused and
the buyer contacts the merchant.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel

from services.orders.domain import Order
from shared.platform.errors import DomainError
from shared.schemas import OrderStatus

INVOICEABLE = {OrderStatus.PROCESSING, OrderStatus.COMPLETED}


class InvoiceRequest(BaseModel):
    request_id: str  # "IR-<order id>": one per order
    order_id: str
    buyer_account_id: str
    merchant_account_id: str
    title: str
    tax_id: str
    requested_at: AwareDatetime
    version: int = 0

    @staticmethod
    def key(order_id: str) -> str:
        return f"IR-{order_id}"


def check_invoiceable(order: Order, buyer: str) -> None:
    """The buyer's own paid order (not refunded, not an unsubscribe order, which is never paid)."""
    order.owned_by(buyer)
    if order.order_type == "unsubscribe" or order.status not in INVOICEABLE:
        raise DomainError(
            f"order {order.order_id} is {order.status.value}; only a paid order is invoiced", field="status"
        )
