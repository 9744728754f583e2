from services.supervision.app import create_app
from services.supervision.settings import SupervisionSettings
from shared.platform.runtime import serve

settings = SupervisionSettings()
serve(create_app(settings), settings)
