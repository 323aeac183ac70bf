"""Is a Docker engine answering? Asked by pinging its API (``GET /_ping``), because a
``docker`` command can be installed without an engine behind it."""

from __future__ import annotations

import http.client
import os
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import urlparse

PING_TIMEOUT = 1.0


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket."""

    def __init__(self, socket_path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def engine_addresses(env: Mapping[str, str] | None = None) -> Iterator[str]:
    """``$DOCKER_HOST`` if set (it alone), else the usual local sockets that exist."""
    env = os.environ if env is None else env
    if env.get("DOCKER_HOST"):
        yield env["DOCKER_HOST"]
        return
    sockets = [Path("/var/run/docker.sock"), Path.home() / ".docker" / "run" / "docker.sock"]
    if env.get("XDG_RUNTIME_DIR"):
        sockets.append(Path(env["XDG_RUNTIME_DIR"]) / "docker.sock")
    for path in sockets:
        if path.exists():
            yield f"unix://{path}"


def ping(address: str, timeout: float = PING_TIMEOUT) -> bool:
    """True if the engine at ``address`` (``unix://path`` or ``tcp://host:port``) answers
    ``GET /_ping`` with 200. TLS engines (``DOCKER_TLS_VERIFY``) are reached over https."""
    url = urlparse(address)
    connection: http.client.HTTPConnection
    if url.scheme == "unix":
        connection = _UnixHTTPConnection(url.path, timeout)
    elif url.scheme in ("tcp", "http", "https") and url.hostname:
        secure = url.scheme == "https" or bool(os.environ.get("DOCKER_TLS_VERIFY"))
        port = url.port or (2376 if secure else 2375)
        connection = (http.client.HTTPSConnection(url.hostname, port, timeout=timeout)
                      if secure else http.client.HTTPConnection(url.hostname, port,
                                                                timeout=timeout))
    else:
        return False
    try:
        connection.request("GET", "/_ping")
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def docker_engine_answers(env: Mapping[str, str] | None = None,
                          timeout: float = PING_TIMEOUT) -> bool:
    """True if a Docker engine answers a ping at one of ``engine_addresses``."""
    return any(ping(address, timeout) for address in engine_addresses(env))
