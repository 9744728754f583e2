"""Who may see and act on a service order: its buyer and merchant (from order.paid), and, where a route or a
step admits them, platform operators (their verified token says so). Each step's own rules are the service
order's."""

from __future__ import annotations

from services.supervision.service_order import ServiceOrder
from services.supervision.unsupervised import NoServiceOrder
from shared.platform.auth import Principal, require_party
from shared.schemas import Parties


def admit(so: ServiceOrder, caller: Principal, *, operators: bool) -> None:
    """403 unless the caller is the order's buyer or merchant (or, where `operators`, a platform operator)."""
    _parties_only(caller, so.parties, f"service order {so.service_order_id}", operators)


def admit_to_marker(marker: NoServiceOrder, caller: Principal) -> None:
    """The order's parties and operators may learn why an order has no service order; nobody else."""
    _parties_only(caller, marker.parties, f"order {marker.order_id}", True)


def _parties_only(caller: Principal, parties: Parties, what: str, operators: bool) -> None:
    require_party(
        caller, parties.buyer_account_id, parties.merchant_account_id, what=what, operators=operators
    )
