"""The ASGI application Daphne serves: HTTP (pages, admin, static files) and the chat
WebSocket. The socket requires a logged-in session and an Origin among ALLOWED_HOSTS:
anything else is refused at the handshake."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
django_http = get_asgi_application()  # sets Django up before the consumer imports models

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from webapp.chat import sweeper  # noqa: E402
from webapp.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    # Static files come from the finders (static/ and the apps), in production too, so a
    # deployment is Daphne alone: no collectstatic step and no separate file server.
    "http": ASGIStaticFilesHandler(django_http),
    "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
})

# Running turns whose worker died are failed from here too, with no worker alive
# (webapp/chat/sweeper.py); off where CHAT_SWEEPER=0 (the test process).
sweeper.start_in_site()
