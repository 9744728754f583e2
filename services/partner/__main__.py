from services.partner.app import create_app
from services.partner.settings import PartnerSettings
from shared.platform.runtime import serve

settings = PartnerSettings()
serve(create_app(settings), settings)
