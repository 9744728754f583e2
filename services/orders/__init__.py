"""Orders: accounts, the catalogue, orders and their lifecycle, and refunds (their one owner).

Where the rules live:
- domain (pure, no I/O): `domain.py` the order and its statuses (§1.3); `refunds.py` who may refund an order
  and when (guarantee period §1.4, appeals' freeze and refund §5.3, the platform's refunds §8.2.2);
  `progress.py` what supervision's events told us (progress, open appeal) and the no-reason refund quota;
  `unsubscribe.py` the unsubscribe order; `aftersales.py` ratings and credit repayment; `accounts.py`;
  `catalogue.py` products, publishing prerequisites (§9.1) and favourites; `billing.py` bill-run eligibility
  (§4.3); `returns.py` hardware returns and the clocks of a hardware unsubscribe (§1.4); `statements.py`
  merchant settlement statements (§4.3); `notices.py` the notices its flows ask notification to send.
- use cases (plain functions on the shared runner, given an `OrdersContext`, context.py): `order_cases.py`,
  `refund_cases.py`, `buyer_cases.py`, `account_cases.py`, `catalogue_cases.py`, `statement_cases.py`;
  `event_cases.py` the handlers of other services' events and their table, EVENT_HANDLERS.
- persistence: `store.py` one repository per aggregate and the unit of work; `queries.py` the read side.
- adapters: `api.py`, `api_catalogue.py`, `buyer_api.py`, `api_returns.py`, `api_statements.py` (HTTP),
  `handlers.py` (Kafka), `sweeper.py` (the unpaid-order worker), `clocks.py` (the return-clock and statement
  workers), `app.py` (composition root). Commands (HTTP bodies) in `commands.py`.
"""
