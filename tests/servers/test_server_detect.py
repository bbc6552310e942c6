"""Finding the serving port without the server's help: own sockets, uvicorn's config, granian's argv."""

from __future__ import annotations

import socket
from types import SimpleNamespace

from fastapi_sentient._server import _granian_port, detect_port, listening_ports


def test_listening_ports_sees_bound_and_listening_sockets_not_clients() -> None:
    """A bound socket (before listen) and a listening one count; a connected client does not."""
    with socket.socket() as bound, socket.socket() as listening, socket.socket() as client:
        bound.bind(("127.0.0.1", 0))
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        client.connect(listening.getsockname())
        accepted, _ = listening.accept()
        with accepted:
            ports = listening_ports()
            assert bound.getsockname()[1] in ports
            assert listening.getsockname()[1] in ports
            assert client.getsockname()[1] not in ports
            assert accepted.getsockname()[1] == listening.getsockname()[1]


def test_detect_port_prefers_uvicorn_config_unless_the_socket_says_otherwise() -> None:
    """uvicorn's --port when nothing is bound yet; the held socket when the config is a default."""
    uvicorn = SimpleNamespace(config=SimpleNamespace(port=8123, fd=None, uds=None))
    held = listening_ports()
    assert detect_port(uvicorn, exclude=held) == 8123
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        # gunicorn's worker: uvicorn's config keeps its default port, the socket is the truth
        assert detect_port(uvicorn, exclude=held) == port
        assert detect_port(None, exclude=held) == port


def test_granian_port_from_its_command_line() -> None:
    """granian's workers inherit its argv: --port N, --port=N, GRANIAN_PORT, else its default 8000."""
    argv = ["/venv/lib/granian/__main__.py", "--interface", "asgi", "app:app"]
    assert _granian_port([*argv, "--port", "9001"], {}) == 9001
    assert _granian_port([*argv, "--port=9002"], {}) == 9002
    assert _granian_port(argv, {"GRANIAN_PORT": "9003"}) == 9003
    assert _granian_port(argv, {}) == 8000
    assert _granian_port(["serve.py"], {}) is None
