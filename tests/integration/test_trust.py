"""Trust on the real stack: tokens from the running Keycloak verify, forged ones do not, and the broker's ACLs
keep each service to its own topics."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import TopicAuthorizationFailedError

from shared.platform.auth import OidcKeys, TokenVerifier, Unauthorized
from shared.schemas import AccountRole
from tests.conftest import Infra


def _verifier(infra: Infra, audience: str) -> TokenVerifier:
    return TokenVerifier(OidcKeys(infra.issuer), issuer=infra.issuer, audience=audience)


async def test_a_keycloak_token_verifies_through_discovery_and_jwks(infra: Infra) -> None:
    buyer = await infra.idp.user("buyer")
    principal = await _verifier(infra, "koo-supervision").verify(await buyer.token())
    assert principal.account_id == buyer.account_id
    assert principal.role is AccountRole.BUYER
    assert (principal.email, principal.email_verified) == (buyer.email, True)


async def test_the_payment_system_token_is_for_orders_only(infra: Infra) -> None:
    token = await infra.idp.payment_token()
    principal = await _verifier(infra, "koo-orders").verify(token)
    assert principal.has("payment-system")
    assert principal.role is None
    with pytest.raises(Unauthorized, match="not meant for this service"):
        await _verifier(infra, "koo-partner").verify(token)


async def test_a_tampered_keycloak_token_is_refused(infra: Infra) -> None:
    buyer = await infra.idp.user("buyer")
    header, payload, signature = (await buyer.token()).split(".")
    forged = ".".join([header, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")])
    with pytest.raises(Unauthorized):
        await _verifier(infra, "koo-orders").verify(forged)


async def _publish_as(infra: Infra, user: str, topic: str) -> None:
    producer = AIOKafkaProducer(**infra.kafka_client(user), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await asyncio.wait_for(producer.send_and_wait(topic, b"{}", key=b"k"), 15)
    finally:
        await producer.stop()


async def test_the_notification_service_cannot_publish_refund_decided(infra: Infra, namespace: str) -> None:
    if not infra.kafka_users:
        pytest.fail("this broker runs without authentication: ACLs cannot be checked")
    with pytest.raises(TopicAuthorizationFailedError):
        await _publish_as(infra, "notification", f"{namespace}.refund.decided")
    with pytest.raises(TopicAuthorizationFailedError):
        await _publish_as(infra, "partner", f"{namespace}.account.registered")
    # The producers of those topics may, and a consumer may dead-letter what it gives up on.
    await _publish_as(
        infra, "orders", f"{namespace}.refund.decided"
    )  # its one producer (refunds are orders')
    with pytest.raises(TopicAuthorizationFailedError):
        await _publish_as(infra, "supervision", f"{namespace}.refund.decided")
    await _publish_as(infra, "orders", f"{namespace}.account.registered")
    await _publish_as(infra, "notification", f"{namespace}.refund.decided.dlt")
