"""Bounds on request bodies, checked before any route (or FastAPI) decodes them.

FastAPI decodes a JSON body before a route's dependencies run, authentication included, so these
bounds protect the worker from anyone who can reach it: a body over :data:`MAX_BODY_BYTES` is
refused unread (413), and a JSON body nested deeper than :data:`MAX_JSON_DEPTH` is refused (422)
before the decoder can overflow the C stack (see :mod:`keeper.jsonsafe`).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from keeper.jsonsafe import MAX_JSON_DEPTH, too_deep

# The largest body a route takes: a transfer batch of MAX_BATCH (10,000) items is ~2.5 MB.
MAX_BODY_BYTES = 8 * 1024 * 1024

__all__ = ["MAX_BODY_BYTES", "MAX_JSON_DEPTH", "BodyLimits"]


class BodyLimits:
    """Pure ASGI middleware: buffers a request body within the bounds, then replays it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse an oversized or too deeply nested body; pass everything else through."""
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
            await _refuse(scope, receive, send, 413, "request body larger than "
                          f"{MAX_BODY_BYTES} bytes")
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                await _refuse(scope, receive, send, 413, "request body larger than "
                              f"{MAX_BODY_BYTES} bytes")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if b"json" in headers.get(b"content-type", b"") and too_deep(body):
            await _refuse(scope, receive, send, 422, "invalid request: body: JSON nested deeper "
                          f"than {MAX_JSON_DEPTH} levels")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    await error_response(status, message)(scope, receive, send)
