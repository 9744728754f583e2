"""Orders: accounts, the catalogue, orders and their lifecycle, and refunds (their one owner).

Where the rules live:
- domain (pure, no I/O): `domain.py` the order and its statuses (§1.3); `refunds.py` who may refund an order
  and when (guarantee period §1.4, appeals' freeze and refund §5.3, the platform's refunds §8.2.2);
  `progress.py` what supervision's events told us (progress, open appeal) and the no-reason refund quota;
  `unsubscribe.py` the unsubscribe order; `aftersales.py` ratings and credit repayment; `accounts.py`;
  `catalogue.py` products, publishing prerequisites (§9.1) and favourites; `billing.py` bill-run eligibility
  (§4.3); `offers.py` milestone offers to one customer (§4.2); `lists.py` the order lists and review queue,
  their filters and keyset pages (§9.2, §2.1); `reminders.py` the buyer's reminder (催促) rate limit and the
  expiry reminder schedule (§6.3); `invoices.py` invoice requests; `returns.py` hardware returns and the
  clocks of a hardware unsubscribe (§1.4); `statements.py` merchant settlement statements (§4.3);
  `upgrades.py` upgrade proration (§8.2.6); `notices.py` the notice.requested each flow writes with its fact
  (§6.3).
- use cases (plain functions on the shared runner, given an `OrdersContext`, context.py): `order_cases.py`,
  `refund_cases.py`, `buyer_cases.py`, `account_cases.py`, `catalogue_cases.py`, `offer_cases.py`,
  `notice_cases.py`, `statement_cases.py`; `event_cases.py` the handlers of other services' events and their
  table, EVENT_HANDLERS.
- persistence: `store.py` one repository per aggregate and the unit of work; `queries.py` the read side.
- adapters: `api.py`, `api_catalogue.py`, `api_lists.py`, `buyer_api.py`, `offer_api.py`, `api_returns.py`,
  `api_statements.py` (HTTP), `handlers.py` (Kafka), `sweeper.py` (the unpaid-order and expiry-reminder
  workers), `clocks.py` (the return-clock and statement workers), `app.py` (composition root). Commands
  (HTTP bodies) in `commands.py`.
"""
