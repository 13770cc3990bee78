"""The socket ``kpigraph serve`` listens on: its connections send small responses at once.

Before: the socket was created with protocol 0, so asyncio (which sets ``TCP_NODELAY`` on
accepted connections only when their protocol is TCP) left Nagle's algorithm on, and every
response on a kept-alive connection waited ~40 ms for the client's delayed ACK (the do-nothing
endpoint answered in 44 ms instead of 2)."""

from __future__ import annotations

import socket
from asyncio import base_events

from cli.serve import bind


def test_accepted_connections_have_nodelay() -> None:
    listener = bind("127.0.0.1", 0)
    try:
        assert listener.proto == socket.IPPROTO_TCP
        client = socket.create_connection(listener.getsockname())
        conn, _ = listener.accept()
        try:
            assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
            base_events._set_nodelay(conn)  # what asyncio does to each accepted connection
            assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        finally:
            conn.close()
            client.close()
    finally:
        listener.close()
