"""Free local TCP ports, and whether a port the platform needs is taken."""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Callable

# Ports this process was given: the kernel may hand a port that was let go straight out again, and
# two settings given one port (API_PORT and FLOWER_PORT) made a run stop before it started anything.
_given: set[int] = set()


def free_port() -> int:
    """A free local port, never one this process was given before."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _given:
            _given.add(port)
            return port


def wait_for_port(
    host: str, port: int, timeout: float, still_starting: Callable[[], bool] = lambda: True
) -> bool:
    """Whether ``host:port`` takes connections within ``timeout``; gives up at once when
    ``still_starting`` says the server has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and still_starting():
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def port_taken(host: str, port: int) -> bool:
    """Whether a server could not listen on ``host:port`` (bound as uvicorn and Flower bind, with
    SO_REUSEADDR, so a port left in TIME_WAIT by a stopped run counts as free). Every address the
    host resolves to is tried, as they bind every one: "localhost" is ::1 and 127.0.0.1, and one
    holder of 127.0.0.1 went unseen when ::1 came first."""
    try:  # an IPv6 host ("::1") needs a socket of its family
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return True
    return any(_cannot_bind(family, kind, proto, address) for family, kind, proto, _, address in addresses)


def _cannot_bind(family: int, kind: int, proto: int, address: tuple) -> bool:  # type: ignore[type-arg]
    try:
        sock = socket.socket(family, kind, proto)
    except OSError as error:  # a family this host has turned off: servers skip it too
        return error.errno not in _FAMILY_OFF
    with sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as error:
            # asyncio's create_server (uvicorn's) skips an address whose family is off, as here
            return error.errno not in _FAMILY_OFF
    return False


_FAMILY_OFF = {errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT}
