"""Orders: accounts, orders, payment and the order status that follows supervision."""
