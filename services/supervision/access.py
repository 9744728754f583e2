"""Who may see and act on a service order: its buyer and merchant (from order.paid), and, where a route or a step
admits them, platform operators (their verified token says so). Each step's own rules are the service order's."""

from __future__ import annotations

from services.supervision.service_order import ServiceOrder
from services.supervision.unsupervised import NoServiceOrder
from shared.platform.auth import Principal, require_party


def admit(so: ServiceOrder, caller: Principal, *, operators: bool) -> None:
    """403 unless the caller is the order's buyer or merchant (or, where `operators`, a platform operator)."""
    require_party(caller, so.parties.buyer_account_id, so.parties.merchant_account_id,
                  what=f"service order {so.service_order_id}", operators=operators)


def admit_to_marker(marker: NoServiceOrder, caller: Principal) -> None:
    """The order's parties and operators may learn why an order has no service order; nobody else."""
    require_party(caller, marker.parties.buyer_account_id, marker.parties.merchant_account_id,
                  what=f"order {marker.order_id}", operators=True)
