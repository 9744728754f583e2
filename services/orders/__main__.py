from services.orders.app import create_app
from services.orders.settings import OrdersSettings
from shared.platform.runtime import serve

settings = OrdersSettings()
serve(create_app(settings), settings)
