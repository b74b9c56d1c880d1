"""Name resolution through the operating system, with a time limit."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout


class SystemResolver:
    """``getaddrinfo`` in a small thread pool, so a slow DNS server cannot hold a caller longer
    than ``timeout`` seconds."""

    def __init__(self, timeout: float = 3.0) -> None:
        self._timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="resolver")

    def resolve(self, host: str, port: int) -> list[str]:
        """Raises LookupError when the name has no address or the lookup timed out."""
        future = self._pool.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        try:
            infos = future.result(self._timeout)
        except FutureTimeout:
            raise LookupError(f"looking up {host} took more than {self._timeout} s") from None
        except (OSError, UnicodeError) as exc:
            raise LookupError(f"{host} does not resolve") from exc
        addresses: list[str] = []
        for _family, _type, _proto, _name, sockaddr in infos:
            address = str(sockaddr[0]).split("%", 1)[0]
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise LookupError(f"{host} does not resolve")
        return addresses

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
