"""The role decides the menu (one marketplace role per account, as the services read it from the token)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    label: str  # a catalogue key
    href: str


INBOX = Item("nav.inbox", "/inbox")
SERVICE_ORDERS = Item("nav.service_orders", "/service-orders")  # supervision's list, filtered by the caller
MENUS: dict[str, tuple[Item, ...]] = {
    "buyer": (
        Item("nav.orders", "/buyer/orders"),
        SERVICE_ORDERS,
        Item("nav.favourites", "/buyer/favourites"),
        Item("nav.recipients", "/messages/recipients"),
        INBOX,
    ),
    "merchant": (
        SERVICE_ORDERS,
        Item("nav.products", "/merchant/products"),
        Item("nav.endpoints", "/merchant/console"),
        INBOX,
    ),
    "operator": (
        Item("nav.appeals", "/operator/appeals"),
        SERVICE_ORDERS,
        Item("nav.reviews", "/operator/products"),
        Item("nav.offer_approvals", "/operator/offers"),
        Item("nav.dead", "/operator/dead"),
        INBOX,
    ),
    "provider": (Item("nav.ledger", "/provider/ledger"), Item("nav.selling", "/provider/selling"), INBOX),
}


def menu_for(role: str) -> tuple[Item, ...]:
    """Nothing for a token without exactly one marketplace role."""
    return MENUS.get(role, ())


def home_for(role: str) -> str:
    items = menu_for(role)
    return items[0].href if items else "/"
