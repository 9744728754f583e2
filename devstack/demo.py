"""`make demo`: one order through the whole story against the running stack, as the realm's demo users.

Every call carries a token the identity provider issued to the person (or machine) making it: the merchant
lists a product, an operator reviews it and approves the provider, the provider sends the buyer a private
link, the buyer orders through it, the payment system confirms the payment, the parties walk the service
order to acceptance, and the order completes, the provider earns, everyone is told.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from devstack.identity import Login, payment_system, person
from devstack.keycloak import demo_users
from devstack.mailbox import Mailbox
from devstack.marketplace import Suite, eventually
from devstack.stack import Ports

PHONES = {
    "buyer1": "+8613800000001",
    "merchant1": "+8613800000002",
    "provider1": "+8613800000003",
    "operator1": "+8613800000009",
}


def say(text: str) -> None:
    print(f"  - {text}", flush=True)


async def _provider(suite: Suite, provider: Login, operator: Login, provider_id: str) -> None:
    """provider1 joins the customer service provider programme once (dossier §7.2); later demos find it."""
    current = await suite.find("partner", f"/providers/{provider_id}", provider)
    if current and current.get("status") == "active":
        say(f"provider1 is an active customer service provider ({provider_id})")
        return
    app = await suite.call(
        "POST",
        "partner",
        "/programme/applications",
        provider,
        expect=201,
        json={"company": "Reseller Inc", "certifications": ["Service"]},
    )
    await suite.call(
        "POST",
        "partner",
        f"/programme/applications/{app['application_id']}/review",
        operator,
        json={"approve": True},
    )
    say("provider1 applied to the provider programme with a Service certification; operator1 approved it")


async def demo(base: str, issuer: str) -> int:
    ports = Ports()
    users = {u["username"]: u for u in demo_users()}
    login = {name: person(issuer, name, str(u["password"])) for name, u in users.items()}
    buyer, merchant, provider, operator = (
        login[n] for n in ("buyer1", "merchant1", "provider1", "operator1")
    )
    ids = {name: str(u["account_id"]) for name, u in users.items()}
    async with httpx.AsyncClient(timeout=15) as http:
        suite = Suite({name: f"{base}:{port}" for name, port in ports.services.items()}, http)
        mail_url, sms_url = f"{base}:{ports.mailpit_http}", f"{base}:{ports.sms_http}"
        mailbox = Mailbox(mail_url, http)
        print("Accounts (profiles registered from each person's own token)")
        for name in ("buyer1", "merchant1", "provider1", "operator1"):
            acc = await suite.profile(login[name], PHONES[name], name=name.title())
            say(f"{name}: {acc['role']} {acc['account_id']} ({acc['bound_email']}, {acc['bound_phone']})")
        await _provider(suite, provider, operator, ids["provider1"])

        print("Catalogue")
        product = await suite.list_product(merchant, operator, provider_share_ratio="0.12")
        say(f"merchant1 listed {product['product_id']} after operator1's review: {product['status']}")

        print("Order")
        link = await suite.call(
            "POST",
            "partner",
            f"/providers/{ids['provider1']}/private-links",
            provider,
            expect=201,
            json={"product_id": product["product_id"], "customer_account_id": ids["buyer1"]},
        )
        order = await suite.order(buyer, product["product_id"], private_link=link["token"])
        order_id = order["order_id"]
        say(
            f"buyer1 placed {order_id} through provider1's private link: "
            f"{order['amount']} {order['currency']}"
        )
        paid = await suite.pay(payment_system(issuer), order)
        say(f"the payment system confirmed the payment: {paid['status']}")

        print("Supervision")
        so = await suite.service_order(buyer, order_id)
        so_id = so["service_order_id"]
        say(f"service order {so_id} opened at node {so['node']}")
        deliver = await suite.delivery(merchant, so_id, note="migrated 3 databases")
        for actor, action, body in (
            (buyer, "submit", {}),
            (merchant, "confirm", {}),
            (merchant, "deliver", deliver),
            (buyer, "accept", {}),
        ):
            so = await suite.act(actor, so_id, action, body)
            say(f"{action} -> {so['node'] or 'completed'}")

        print("Outcome")
        done = await suite.completed(buyer, order_id)
        say(f"order {order_id} is {done['status']}; validity starts {done['validity_starts_at']}")

        async def earned() -> Any:
            lg = await suite.call("GET", "partner", f"/providers/{ids['provider1']}/ledger", provider)
            mine = [e for e in lg["entries"] if e["order_id"] == order_id]
            return (mine, lg["total"]) if mine else None

        entries, total = await eventually(earned, what="the provider's commission")
        say(f"provider1 earned {entries[0]['amount']} on {order_id} (ledger total {total})")
        mail_to = str(users["buyer1"]["email"])

        async def mails() -> Any:
            found = [m for m in await mailbox.messages(mail_to) if order_id in m.subject]
            return found if len(found) >= 4 else None

        subjects = [m.subject for m in await eventually(mails, what="four emails to buyer1")]
        inbox = await suite.call("GET", "notification", f"/accounts/{ids['buyer1']}/inbox", buyer)
        latest = inbox["items"][0]["title"]
        say(f"buyer1's inbox: {inbox['total']} messages, {inbox['unread']} unread; latest: {latest}")
        say(f"emails to buyer1 at Mailpit: {subjects}")
        sms = (await http.get(f"{sms_url}/sms", params={"to": PHONES["merchant1"]})).json()
        say(
            "SMS to merchant1 at the Twilio-compatible sink: "
            f"{[s['body'] for s in sms if order_id in s['body']]}"
        )
        print(
            f"\nSee the mails at {mail_url}/ (Mailpit), the SMS at {sms_url}/ and the API at "
            f"{suite.urls['orders']}/docs"
        )
    return 0


def run_demo(base: str, issuer: str) -> int:
    return asyncio.run(demo(base, issuer))
