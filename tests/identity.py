"""People and machines of the real stack: users made in the running Keycloak, with real tokens from it.

Each test makes its own users (random names) through Keycloak's admin API, so tests never share an account;
tokens come from the issuer (password grant of the dev realm's CLI client, client credentials for the payment
system) and are reused until shortly before they expire. The machinery is devstack's (devstack/identity.py).
"""

from __future__ import annotations

from devstack.identity import KeycloakAdmin, Login, User, payment_system
from devstack.keycloak import KeycloakNode

__all__ = ["IdentityProvider", "User"]


class IdentityProvider:
    def __init__(self, node: KeycloakNode) -> None:
        self.issuer = node.issuer
        self.admin = KeycloakAdmin(node.url, node.admin_password)
        self.payment: Login = payment_system(node.issuer)

    async def user(self, role: str, *, name: str | None = None, email: str | None = None) -> User:
        """A new person holding one realm role (buyer, merchant, provider or operator)."""
        return await self.admin.user(role, name=name, email=email)

    async def payment_token(self) -> str:
        """The payment system's token (client credentials): it alone confirms payments."""
        return await self.payment.token()

    async def payment_headers(self) -> dict[str, str]:
        return await self.payment.headers()
