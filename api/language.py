"""The language of one request: ``?lang=zh|en``, else ``Accept-Language``, else the catalog's
``language`` (``kpigraph.yaml``). Pages and error messages read it through :mod:`core.i18n`."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core import i18n


class LanguageMiddleware:
    """Choose the request's language before the route runs (a context variable, so the
    thread a sync route runs in sees it too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        asked = i18n.normalize((query.get("lang") or [None])[-1])
        chosen = asked or i18n.negotiate(Headers(scope=scope).get("accept-language"))
        app = scope.get("app")

        def catalog_language() -> str | None:
            store = getattr(getattr(app, "state", None), "store", None)
            if store is None:
                return None
            lang = store.info().meta.get("language")
            return lang if isinstance(lang, str) else None

        async def send_with_language(message: Message) -> None:
            # the language the response speaks, when something of it was said in one: the CLI
            # (kpigraph changes …) then speaks the served catalog's language too
            if message["type"] == "http.response.start":
                lang = i18n.settled()
                if lang:
                    headers = MutableHeaders(scope=message)
                    headers.setdefault("content-language", lang)
            await send(message)

        token = i18n.set_fallback(catalog_language)
        try:
            with i18n.use(chosen):
                await self.app(scope, receive, send_with_language)
        finally:
            i18n.reset_fallback(token)
