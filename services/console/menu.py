"""The role decides the menu (one marketplace role per account, as the services read it from the token)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    label: str  # a catalogue key
    href: str


INBOX = Item("nav.inbox", "/inbox")
MENUS: dict[str, tuple[Item, ...]] = {
    "buyer": (Item("nav.orders", "/buyer/orders"), INBOX),
    # No merchant or operator listing of service orders exists in the services yet: both open one by its
    # order id (the operator's appeal notices and the merchant's order messages carry it).
    "merchant": (
        Item("nav.service_orders", "/service-orders"),
        Item("nav.products", "/merchant/products"),
        INBOX,
    ),
    "operator": (Item("nav.appeals", "/service-orders"), INBOX),
    "provider": (Item("nav.ledger", "/provider/ledger"), INBOX),
}


def menu_for(role: str) -> tuple[Item, ...]:
    """Nothing for a token without exactly one marketplace role."""
    return MENUS.get(role, ())


def home_for(role: str) -> str:
    items = menu_for(role)
    return items[0].href if items else "/"
