"""Raw HTTP for attack tests: the request target goes on the wire exactly as written.

HTTP clients normalise paths (``/%64rain`` may be sent as ``/drain``); a proxy
rule that blocks the literal path sees what the client sent, so these tests
send it byte for byte.
"""

from __future__ import annotations

import http.client


def raw(
    port: int, method: str, target: str, headers: dict[str, str] | None = None, timeout: float = 5
) -> tuple[int, bytes]:
    """Send one request to 127.0.0.1:port and return (status, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()
