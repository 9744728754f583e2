"""Drive one order through the whole story against a running stack and print what happened."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from devstack.stack import Ports


class Demo:
    def __init__(self, base: str) -> None:
        ports = Ports()
        self.urls = {name: f"{base}:{port}" for name, port in ports.services.items()}
        self.sinks = f"{base}:{ports.sinks_http}"
        self.http = httpx.Client(timeout=10)

    def call(self, method: str, service: str, path: str, account: str | None = None, **kw: Any) -> Any:
        headers = {"X-Account-Id": account} if account else {}
        resp = self.http.request(method, self.urls[service] + path, headers=headers, **kw)
        if resp.status_code >= 400:
            raise SystemExit(f"{method} {service}{path} -> {resp.status_code}: {resp.text}")
        return resp.json()

    def find(self, service: str, path: str, account: str) -> Any:
        """The resource, or None while it does not exist yet."""
        resp = self.http.get(self.urls[service] + path, headers={"X-Account-Id": account})
        return resp.json() if resp.status_code == 200 else None

    def wait(self, what: str, probe: Any, timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = probe()
            if value:
                return value
            time.sleep(0.2)
        raise SystemExit(f"timed out waiting for {what}")


def say(text: str) -> None:
    print(f"  - {text}", flush=True)


def run_demo(base: str) -> int:
    d = Demo(base)
    tag = uuid.uuid4().hex[:6]
    print("Accounts")
    accounts = {}
    for role, name, phone in (("buyer", "Buyer Co", "+8613800000001"), ("merchant", "Merchant Ltd", "+8613800000002"),
                              ("provider", "Reseller Inc", "+8613800000003")):
        acc = d.call("POST", "orders", "/accounts", json={
            "account_id": f"{role}-{tag}", "role": role, "display_name": name, "locale": "en-US",
            "bound_email": f"{role}-{tag}@example.com", "bound_phone": phone})
        accounts[role] = acc["account_id"]
        say(f"{role}: {acc['account_id']} ({acc['bound_email']}, {acc['bound_phone']})")
    buyer, merchant, provider = accounts["buyer"], accounts["merchant"], accounts["provider"]

    print("Order")
    order = d.call("POST", "orders", "/orders", buyer, json={
        "merchant_account_id": merchant, "provider_id": provider, "amount": "1288.00",
        "product": {"product_id": "p-migration", "name": "Database migration service",
                    "delivery_type": "manual_service", "billing_mode": "one_time", "provider_share_ratio": "0.12"}})
    order_id = order["order_id"]
    say(f"placed {order_id}: {order['status']}")
    say(f"paid: {d.call('POST', 'orders', f'/orders/{order_id}/pay', buyer)['status']}")

    print("Supervision")
    so = d.wait("the service order", lambda: d.find("supervision", f"/service-orders/by-order/{order_id}", buyer))
    so_id = so["service_order_id"]
    say(f"service order {so_id} opened at node {so['node']}")
    evidence = [{"kind": "sow", "name": "SOW.pdf"}, {"kind": "acceptance_document", "name": "Acceptance.pdf"}]
    deliver = {"evidence": evidence, "actual_activation_time": "2026-11-20T09:00:00+08:00",
               "note": "migrated 3 databases"}
    for actor, action, body in ((buyer, "submit", {}), (merchant, "confirm", {}), (merchant, "deliver", deliver),
                                (buyer, "accept", {})):
        so = d.call("POST", "supervision", f"/service-orders/{so_id}/actions/{action}", actor, json=body)
        say(f"{action} -> {so['node'] or 'completed'}")

    print("Outcome")
    def completed() -> Any:
        o = d.call("GET", "orders", f"/orders/{order_id}", buyer)
        return o if o["status"] == "completed" else None

    def earned() -> Any:
        lg = d.call("GET", "partner", f"/providers/{provider}/ledger", provider)
        return lg if lg["entries"] else None

    done = d.wait("the order to complete", completed)
    say(f"order {order_id} is {done['status']}; validity starts {done['validity_starts_at']}")
    ledger = d.wait("the provider's commission", earned)
    say(f"provider {provider} earned {ledger['entries'][0]['amount']} (ledger total {ledger['total']})")
    buyer_mail = f"buyer-{tag}@example.com"
    d.wait("emails", lambda: len(d.http.get(f"{d.sinks}/mail", params={"to": buyer_mail}).json()) >= 4)
    inbox = d.call("GET", "notification", f"/accounts/{buyer}/inbox", buyer)
    say(f"buyer's inbox: {inbox['total']} messages, {inbox['unread']} unread; latest: {inbox['items'][0]['title']}")
    mails = d.http.get(f"{d.sinks}/mail", params={"to": buyer_mail}).json()
    say(f"emails to the buyer at the SMTP sink: {[m['subject'] for m in mails]}")
    sms = d.http.get(f"{d.sinks}/sms", params={"to": "+8613800000002"}).json()
    say(f"SMS to the merchant at the Twilio-compatible sink: {[s['body'] for s in sms if order_id in s['body']]}")
    print(f"\nSee everything at {d.sinks}/ and {d.urls['orders']}/docs")
    return 0
