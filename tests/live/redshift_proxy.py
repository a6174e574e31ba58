"""A small PostgreSQL-protocol proxy that lets redshift-connector talk to a real PostgreSQL.

redshift-connector sends Redshift-only startup parameters (PostgreSQL refuses them) and parses
the server version (Debian's "15.x (Debian ...)" breaks it). The proxy drops those parameters
from the startup message and reports `server_version` as a plain number; everything else passes
through unchanged. Started on 127.0.0.1 and a free port, stopped by its handle.
"""

from __future__ import annotations

import asyncio
import struct
import threading

REDSHIFT_ONLY = {b"client_protocol_version", b"driver_version", b"os_version",
                 b"driver_discovery_version", b"extra_float_digits"}
PLAIN_VERSION = b"15.0"


def _startup(body: bytes) -> bytes:
    """Rebuild a startup message without the Redshift-only parameters."""
    protocol, rest = body[:4], body[4:]
    parts = rest.split(b"\x00")
    kept = []
    for key, value in zip(parts[0::2], parts[1::2], strict=False):
        if key and key not in REDSHIFT_ONLY:
            kept += [key, value]
    payload = protocol + b"".join(p + b"\x00" for p in kept) + b"\x00"
    return struct.pack("!I", len(payload) + 4) + payload


class RedshiftProxy:
    """Proxy 127.0.0.1:port -> upstream PostgreSQL; `connections` counts accepted clients."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> RedshiftProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        tasks = asyncio.all_tasks(self._loop)
        for task in tasks:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            length = struct.unpack("!I", await client_r.readexactly(4))[0]
            body = await client_r.readexactly(length - 4)
            upstream_r, upstream_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            upstream_w.write(_startup(body))
            await upstream_w.drain()
            await asyncio.gather(self._pipe(client_r, upstream_w),
                                 self._server_messages(upstream_r, client_w),
                                 return_exceptions=True)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            client_w.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    @staticmethod
    async def _server_messages(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Rewrite server_version until the first ReadyForQuery, then pass bytes through."""
        try:
            while True:
                kind = await reader.readexactly(1)
                length = struct.unpack("!I", await reader.readexactly(4))[0]
                body = await reader.readexactly(length - 4)
                if kind == b"S" and body.startswith(b"server_version\x00"):
                    body = b"server_version\x00" + PLAIN_VERSION + b"\x00"
                writer.write(kind + struct.pack("!I", len(body) + 4) + body)
                await writer.drain()
                if kind == b"Z":
                    break
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()
