"""A TCP proxy in front of a real redis-server that can lose one reply: the command reaches Redis
and runs, then the connection drops before its answer reaches the client, as when Redis restarts
or a network path breaks at that moment. The client then sees a connection error and retries."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from urllib.parse import urlparse


class ReplyDroppingProxy:
    def __init__(self, redis_url: str) -> None:
        upstream = urlparse(redis_url)
        self.upstream = (upstream.hostname or "127.0.0.1", upstream.port or 6379)
        self.database = upstream.path or "/0"
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        self._pattern: bytes | None = None
        self._before_the_client_hears: Callable[[], None] = lambda: None
        self.replies_dropped = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self._listener.getsockname()[1]}{self.database}"

    def drop_next_reply_to(
        self, command: bytes, before_the_client_hears: Callable[[], None] = lambda: None
    ) -> None:
        """Lose the reply to the next request that holds ``command`` (e.g. ``b"EVALSHA"``); run
        ``before_the_client_hears`` after Redis ran it and before the connection drops (another
        client's command that lands between the lost reply and the retry)."""
        with self._lock:
            self._pattern = command
            self._before_the_client_hears = before_the_client_hears

    def close(self) -> None:
        self._listener.close()

    def _take(self, request: bytes) -> bool:
        with self._lock:
            if self._pattern is not None and self._pattern in request:
                self._pattern = None
                return True
            return False

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            drop_reply = threading.Event()
            threading.Thread(target=self._requests, args=(client, upstream, drop_reply), daemon=True).start()
            threading.Thread(target=self._replies, args=(upstream, client, drop_reply), daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket, drop_reply: threading.Event) -> None:
        try:
            while request := client.recv(65536):
                if self._take(request):
                    drop_reply.set()
                upstream.sendall(request)
        except OSError:
            pass
        finally:
            _close(client, upstream)

    def _replies(self, upstream: socket.socket, client: socket.socket, drop_reply: threading.Event) -> None:
        try:
            while reply := upstream.recv(65536):
                if drop_reply.is_set():  # Redis ran the command; its answer is lost with the connection
                    with self._lock:
                        self.replies_dropped += 1
                    self._before_the_client_hears()
                    break
                client.sendall(reply)
        except OSError:
            pass
        finally:
            _close(client, upstream)


def _close(*connections: socket.socket) -> None:
    """Close both ends; shutdown first wakes the other thread blocked on the same sockets."""
    for connection in connections:
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)
        connection.close()
