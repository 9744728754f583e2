from services.notification.app import create_app
from services.notification.settings import NotificationSettings
from shared.platform.runtime import serve

settings = NotificationSettings()
serve(create_app(settings), settings)
