"""The body limit once a response has started: a streaming response reads the body only to learn
that its client left."""

from __future__ import annotations

import asyncio

from starlette.types import Message, Receive, Scope, Send

from api.body_limit import BodySizeLimitMiddleware


def test_a_body_past_the_limit_after_the_response_started_reads_as_the_client_gone() -> None:
    """An event stream sent a chunked body past MAX_BODY_BYTES: the 413 raised inside Starlette's
    disconnect listener became "response already started", logged with a traceback at ERROR for
    each such request (found by a review)."""
    chunks: list[Message] = [{"type": "http.request", "body": b"x" * 600, "more_body": True}] * 3
    seen: list[str] = []
    sent: list[Message] = []

    async def receive() -> Message:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    async def streaming_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while True:  # as StreamingResponse.listen_for_disconnect does
            message = await receive()
            seen.append(message["type"])
            if message["type"] == "http.disconnect":
                break

    scope = {"type": "http", "headers": [(b"transfer-encoding", b"chunked")]}
    asyncio.run(BodySizeLimitMiddleware(streaming_app, max_bytes=1000)(scope, receive, send))
    assert seen == ["http.request", "http.disconnect"]
    assert [message["type"] for message in sent] == ["http.response.start"]  # no second response
