"""Who may call what: every authenticated route of the four services × the callers, in one table.

The README shows this table (`python -m tests.access_table` rewrites that block); `tests/unit/test_access_table.py`
checks that it covers every route of the committed OpenAPI documents and matches the README, and
`tests/e2e/test_access.py` walks it on the real stack with real tokens: every "yes" works, every "no" is refused.

Callers: a buyer, merchant, provider (an approved customer service provider) or operator token, the payment
system's service-account token, no token at all, and a *stranger*: an account of the same role as the party
that is not a party of the resource (another buyer, another merchant, another provider).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

ROLES = ("buyer", "merchant", "provider", "operator", "payment")
COLUMNS = (*ROLES, "stranger", "anonymous")
README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN, END = "<!-- access-table:begin -->", "<!-- access-table:end -->"
ALL = frozenset({"buyer", "merchant", "provider", "operator"})


@dataclass(frozen=True)
class Rule:
    service: str
    method: str
    path: str
    allowed: frozenset[str]
    party: str = ""  # the party rule, in words; empty when the role alone decides
    stranger: str | None = None  # which role's non-party is refused (None: the role alone decides)
    public: bool = False  # no token needed

    @property
    def key(self) -> tuple[str, str, str]:
        return self.service, self.method, self.path


def r(
    service: str,
    method: str,
    path: str,
    allowed: set[str] | frozenset[str],
    party: str = "",
    stranger: str | None = None,
    public: bool = False,
) -> Rule:
    return Rule(service, method, path, frozenset(allowed), party, stranger, public)


OPS = {"operator"}
OWN = "its own account (the token's subject)"
ORDER_PARTIES = "the order's buyer and merchant; operators"
SO_PARTIES = "the service order's buyer and merchant; operators"

RULES: tuple[Rule, ...] = (
    # --- orders ---------------------------------------------------------------------------------------
    r("orders", "POST", "/accounts", ALL, OWN),
    r("orders", "GET", "/accounts/me", ALL, OWN),
    r("orders", "GET", "/accounts/me/export", ALL, OWN),
    r("orders", "POST", "/accounts/me/erasure", ALL, OWN),
    r(
        "orders",
        "GET",
        "/accounts/{account_id}",
        {"buyer", "operator"},
        "the account's owner; operators",
        "buyer",
    ),
    r("orders", "PUT", "/accounts/{account_id}/verification", OPS),
    r("orders", "POST", "/accounts/{account_id}/coupons", OPS),
    r("orders", "POST", "/assets", {"merchant"}),
    r("orders", "POST", "/assets/{asset_id}/release", {"merchant"}, "the asset's merchant", "merchant"),
    r("orders", "POST", "/assets/{asset_id}/scan", OPS),
    r("orders", "GET", "/billing/eligibility", {"merchant", "operator"}, "a merchant sees its own orders"),
    r("orders", "POST", "/certifications", OPS),
    r("orders", "GET", "/favourites", {"buyer"}, "its own"),
    r("orders", "POST", "/favourites", {"buyer"}, "its own"),
    r("orders", "DELETE", "/favourites/{product_id}", {"buyer"}, "its own"),
    r("orders", "POST", "/favourites/{product_id}/buy", {"buyer"}, "its own favourite"),
    r("orders", "GET", "/milestone-offers", {"buyer", "merchant"}, "a merchant's own; those made to a buyer"),
    r("orders", "POST", "/milestone-offers", {"merchant"}, "on its own listed product"),
    r(
        "orders",
        "GET",
        "/milestone-offers/{offer_id}",
        {"buyer", "merchant", "operator"},
        "the offer's merchant and customer; operators",
        "buyer",
    ),
    r("orders", "POST", "/milestone-offers/{offer_id}/orders", {"buyer"}, "the offer's customer", "buyer"),
    r(
        "orders",
        "POST",
        "/milestone-offers/{offer_id}/withdraw",
        {"merchant"},
        "the offer's merchant",
        "merchant",
    ),
    r("orders", "GET", "/operator/audit", OPS),
    r("orders", "GET", "/operator/product-reviews", OPS),
    r("orders", "GET", "/orders", {"buyer", "merchant", "operator"}, "a party's own orders; operators all"),
    r(
        "orders",
        "POST",
        "/orders",
        {"buyer"},
        "listed products at the catalogue's (or a signed link's) price",
    ),
    r("orders", "GET", "/orders/{order_id}", {"buyer", "merchant", "operator"}, ORDER_PARTIES, "buyer"),
    r(
        "orders",
        "POST",
        "/orders/{order_id}/invoice-requests",
        {"buyer"},
        "the order's buyer",
        "buyer",
    ),
    r("orders", "POST", "/orders/{order_id}/reminders", {"buyer"}, "the order's buyer", "buyer"),
    r("orders", "POST", "/orders/{order_id}/cancel", {"buyer"}, "the order's buyer", "buyer"),
    r("orders", "POST", "/orders/{order_id}/credit-repaid", OPS),
    r("orders", "POST", "/orders/{order_id}/pay", {"payment"}, "the payment system's service account"),
    r(
        "orders",
        "POST",
        "/orders/{order_id}/refunds/{refund_id}/decision",
        {"merchant"},
        "the order's merchant",
        "merchant",
    ),
    r(
        "orders",
        "POST",
        "/orders/{order_id}/refunds/{refund_id}/return",
        {"merchant"},
        "the order's merchant",
        "merchant",
    ),
    r("orders", "GET", "/products", ALL | {"payment"}, "public", public=True),
    r("orders", "POST", "/products", {"merchant"}),
    r("orders", "GET", "/products/{product_id}", ALL | {"payment"}, "public when listed", public=True),
    r("orders", "POST", "/products/{product_id}/publish", {"merchant"}, "the product's merchant", "merchant"),
    r("orders", "POST", "/products/{product_id}/review", OPS),
    r("orders", "GET", "/purchased-services", {"buyer"}, "its own"),
    r("orders", "GET", "/purchased-services/{order_id}", {"buyer"}, "the order's buyer", "buyer"),
    r("orders", "GET", "/purchased-services/{order_id}/progress", {"buyer"}, "the order's buyer", "buyer"),
    r("orders", "POST", "/purchased-services/{order_id}/rating", {"buyer"}, "the order's buyer", "buyer"),
    r("orders", "POST", "/purchased-services/{order_id}/renew", {"buyer"}, "the order's buyer", "buyer"),
    r(
        "orders",
        "POST",
        "/purchased-services/{order_id}/unsubscribe",
        {"buyer"},
        "the order's buyer",
        "buyer",
    ),
    r(
        "orders",
        "POST",
        "/purchased-services/{order_id}/unsubscribe/{refund_id}/shipment",
        {"buyer"},
        "the order's buyer",
        "buyer",
    ),
    r("orders", "GET", "/statements", {"merchant", "operator"}, "a merchant sees its own statements"),
    r(
        "orders",
        "GET",
        "/statements/{statement_id}",
        {"merchant", "operator"},
        "the statement's merchant; operators",
        "merchant",
    ),
    r("orders", "POST", "/statements/{statement_id}/paid", OPS),
    r("orders", "POST", "/statements/{statement_id}/send", OPS),
    # --- supervision ----------------------------------------------------------------------------------
    r(
        "supervision",
        "GET",
        "/service-orders",
        {"buyer", "merchant", "operator"},
        "a party's own service orders; operators all",
    ),
    r(
        "supervision",
        "GET",
        "/service-orders/by-order/{order_id}",
        {"buyer", "merchant", "operator"},
        SO_PARTIES,
        "buyer",
    ),
    r(
        "supervision",
        "GET",
        "/service-orders/{service_order_id}",
        {"buyer", "merchant", "operator"},
        SO_PARTIES,
        "buyer",
    ),
    r(
        "supervision",
        "POST",
        "/service-orders/{service_order_id}/actions/{action}",
        {"buyer", "merchant"},
        "the party whose step the current node is (operators: the platform review step only)",
        "buyer",
    ),
    r(
        "supervision",
        "POST",
        "/service-orders/{service_order_id}/appeals",
        {"buyer", "merchant"},
        "the service order's buyer and merchant",
        "merchant",
    ),
    r("supervision", "POST", "/service-orders/{service_order_id}/appeals/{appeal_id}/resolution", OPS),
    r(
        "supervision",
        "GET",
        "/service-orders/{service_order_id}/export",
        {"buyer", "merchant", "operator"},
        SO_PARTIES,
        "buyer",
    ),
    r(
        "supervision",
        "POST",
        "/service-orders/{service_order_id}/files",
        {"buyer", "merchant", "operator"},
        SO_PARTIES,
        "merchant",
    ),
    r(
        "supervision",
        "GET",
        "/service-orders/{service_order_id}/files/{file_id}",
        {"buyer", "merchant", "operator"},
        SO_PARTIES,
        "buyer",
    ),
    r("supervision", "GET", "/operator/audit", OPS),
    r("supervision", "GET", "/appeals", OPS),  # the operators' appeal queue (dossier §5.3, §9.2)
    r("supervision", "POST", "/appeals/{appeal_id}/assign", OPS),
    # The timeline's public keys, like a JWKS: anyone verifying an export fetches them (no token).
    r("supervision", "GET", "/timeline-keys", ALL | {"payment"}, "public", public=True),
    # --- notification ---------------------------------------------------------------------------------
    *(
        r("notification", method, path, ALL, OWN, "buyer")
        for method, path in (
            ("GET", "/accounts/{account_id}/deliveries"),
            ("GET", "/accounts/{account_id}/deliveries/{delivery_id}"),
            ("GET", "/accounts/{account_id}/export"),
            ("GET", "/accounts/{account_id}/inbox"),
            ("POST", "/accounts/{account_id}/inbox/read-all"),
            ("GET", "/accounts/{account_id}/inbox/unread-count"),
            ("DELETE", "/accounts/{account_id}/inbox/{message_id}"),
            ("POST", "/accounts/{account_id}/inbox/{message_id}/read"),
            ("GET", "/accounts/{account_id}/recipients"),
            ("POST", "/accounts/{account_id}/recipients"),
            ("DELETE", "/accounts/{account_id}/recipients/{recipient_id}"),
            ("PATCH", "/accounts/{account_id}/recipients/{recipient_id}"),
            ("POST", "/accounts/{account_id}/recipients/{recipient_id}/resend"),
            ("POST", "/accounts/{account_id}/recipients/{recipient_id}/verify-phone"),
            ("GET", "/accounts/{account_id}/reminders"),
        )
    ),
    r("notification", "GET", "/message-types", ALL),
    r("notification", "GET", "/operator/audit", OPS),
    r("notification", "GET", "/operator/deliveries/dead", OPS),
    r("notification", "POST", "/operator/deliveries/{delivery_id}/replay", OPS),
    r("notification", "GET", "/operator/providers", OPS),
    # --- partner --------------------------------------------------------------------------------------
    r("partner", "PUT", "/customers/{customer_id}/association", OPS),
    r("partner", "POST", "/demands", {"provider"}, "an approved provider, for itself"),
    r(
        "partner",
        "GET",
        "/demands",
        {"merchant", "provider", "operator"},
        "a provider's own, those filed with a merchant; operators all",
    ),
    r(
        "partner",
        "GET",
        "/demands/{demand_id}",
        {"buyer", "merchant", "provider", "operator"},
        "the demand's provider, merchant and customer; operators",
        "provider",
    ),
    r(
        "partner",
        "POST",
        "/demands/{demand_id}/offer",
        {"merchant"},
        "the merchant the demand was filed with",
        "merchant",
    ),
    r(
        "partner",
        "POST",
        "/merchant-calls/{call_id}/replay",
        {"buyer", "merchant", "operator"},
        "the call's merchant, the buyer of its order; operators",
        "merchant",
    ),
    r("partner", "GET", "/licenses", {"buyer"}, "the order's buyer", "buyer"),
    r("partner", "GET", "/merchants/{merchant_id}/console", {"merchant"}, "that merchant", "merchant"),
    r("partner", "PUT", "/merchants/{merchant_id}/endpoint", {"merchant"}, "that merchant", "merchant"),
    r(
        "partner",
        "POST",
        "/offers",
        {"provider", "merchant"},
        "an approved provider; a merchant on products whose terms it owns",
    ),
    r(
        "partner",
        "GET",
        "/offers",
        {"merchant", "provider", "operator"},
        "a provider's own, those on a merchant's products; operators all",
    ),
    r("partner", "POST", "/offers/{offer_id}/approve", OPS),
    r("partner", "POST", "/offers/{offer_id}/reject", OPS),
    r(
        "partner",
        "POST",
        "/offers/{offer_id}/withdraw",
        {"provider", "merchant"},
        "the offer's issuer (while it awaits approval)",
        "provider",
    ),
    r(
        "partner",
        "GET",
        "/offers/{offer_id}",
        {"buyer", "merchant", "provider", "operator"},
        "the offer's issuer, provider, customer and products' merchant; operators",
        "provider",
    ),
    r("partner", "POST", "/orders/{order_id}/kit/bind", {"buyer"}, "the order's buyer", "buyer"),
    r("partner", "POST", "/orders/{order_id}/kit/departments", {"buyer"}, "the order's buyer", "buyer"),
    r("partner", "POST", "/orders/{order_id}/kit/users", {"buyer"}, "the order's buyer", "buyer"),
    r("partner", "POST", "/orders/{order_id}/license/identifier", {"buyer"}, "the order's buyer", "buyer"),
    r(
        "partner",
        "GET",
        "/products/{product_id}/terms",
        {"merchant", "provider", "operator"},
        "the terms' merchant, approved providers; operators",
        "merchant",
    ),
    r(
        "partner",
        "PUT",
        "/products/{product_id}/terms",
        {"merchant"},
        "the product's merchant (the first to set them)",
        "merchant",
    ),
    r("partner", "POST", "/programme/applications", {"provider"}, "for itself"),
    r("partner", "POST", "/programme/applications/{application_id}/review", OPS),
    r(
        "partner",
        "GET",
        "/providers/{provider_id}",
        {"provider", "operator"},
        "that provider; operators",
        "provider",
    ),
    r("partner", "POST", "/providers/{provider_id}/bills", OPS),
    r("partner", "POST", "/providers/{provider_id}/bills/{bill_id}/paid", OPS),
    r("partner", "POST", "/providers/{provider_id}/bills/{bill_id}/send", OPS),
    r(
        "partner",
        "POST",
        "/providers/{provider_id}/bills/{bill_id}/invoice",
        {"provider"},
        "that provider",
        "provider",
    ),
    r(
        "partner",
        "GET",
        "/providers/{provider_id}/ledger",
        {"provider", "operator"},
        "that provider; operators",
        "provider",
    ),
    r(
        "partner",
        "POST",
        "/providers/{provider_id}/private-links",
        {"provider"},
        "that provider, approved",
        "provider",
    ),
    r(
        "partner",
        "GET",
        "/providers/{provider_id}/statement",
        {"provider", "operator"},
        "that provider; operators",
        "provider",
    ),
    r("partner", "GET", "/operator/audit", OPS),
    # --- every service: its parked events; the producers: the dead letters of their topics, and replay ---------
    *(
        r(service, "GET", "/operator/parked", OPS)
        for service in ("orders", "supervision", "notification", "partner")
    ),
    *(
        r(service, method, path, OPS)
        for service in ("orders", "supervision", "partner")
        for method, path in (
            ("GET", "/operator/dead-letters"),
            ("POST", "/operator/dead-letters/{dead_letter_id}/replay"),
            ("POST", "/operator/dead-letters/replay"),
        )
    ),
)
# Open without a token by design (issue 9): health, contracts, third-party-signed callbacks, the public catalogue;
# and /metrics (issue 13: only the monitoring namespace reaches it, by NetworkPolicy; not in the OpenAPI document).
EXEMPT = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/asyncapi.json",
    "/callbacks/sms/{delivery_id}",
    "/verify/email",
    # partner's merchant-signed open API (dossier §8.2.9, §8.3): the merchant's access-key signature, no token
    "/open/saas/usage-data",
    # License open API (dossier §2.2.a): the merchant's software, signed with the merchant's key (§8.3)
    "/open/license/activate",
    "/open/license/query",
    "/open/license/heartbeat",
    "/open/license/deliver",
}


def refusal(rule: Rule, column: str) -> int:
    """401 without a valid token for this service (the payment system's tokens are for orders only), else 403."""
    if column == "anonymous" or (column == "payment" and rule.service != "orders"):
        return 401
    return 403


def cell(rule: Rule, column: str) -> str:
    if column == "anonymous":
        return "yes" if rule.public else "401"
    if column == "stranger":
        return "403" if rule.stranger else ""
    return "yes" if column in rule.allowed else str(refusal(rule, column))


def markdown() -> str:
    head = (
        "| service | route | buyer | merchant | provider | operator | payment system | stranger | no token | "
        "party rule |"
    )
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|"]
    for rule in RULES:
        cells = " | ".join(cell(rule, c) for c in COLUMNS)
        lines.append(f"| {rule.service} | `{rule.method} {rule.path}` | {cells} | {rule.party} |")
    return "\n".join(lines)


def readme_block() -> str:
    return f"{BEGIN}\n{markdown()}\n{END}"


def write_readme() -> bool:
    text = README.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    new = text[:start] + readme_block() + text[end:]
    if new != text:
        README.write_text(new)
    return new != text


if __name__ == "__main__":
    print("README.md updated" if write_readme() else "README.md is up to date", file=sys.stderr)
