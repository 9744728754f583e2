"""Partner: customer service providers (客户服务商) — their earnings on the orders bound to them."""
