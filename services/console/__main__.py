import uvicorn

from services.console.app import create_app
from services.console.settings import ConsoleSettings

settings = ConsoleSettings()
uvicorn.run(
    create_app(settings),
    host=settings.http_host,
    port=settings.http_port,
    log_level="info",
    proxy_headers=True,
)
