"""Serve an ASGI app (the receiver) with uvicorn on a free loopback port, for a test's lifetime.

Providers notify only HTTPS addresses (Graph refuses a plain-http `notificationUrl`), so a test
whose sandbox must reach the receiver serves it over HTTPS with a certificate of the sandbox's
own CA (`tls=sandbox.tls`), which the emulators trust as the real services trust public CAs.
Clients of such a receiver verify it with `sandbox.tls.client_context()`.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette

from sandbox.tls import SandboxTLS

__all__ = ["Running", "serve"]


@dataclass
class Running:
    server: uvicorn.Server
    task: asyncio.Task[None]
    url: str


@asynccontextmanager
async def serve(app: Starlette, *, tls: SandboxTLS | None = None) -> AsyncIterator[Running]:
    """Serve `app` with uvicorn (httptools) on a free loopback port; stop it on exit. With `tls`,
    over HTTPS with a certificate for 127.0.0.1 from that CA."""
    with ExitStack() as files:
        pem = None
        if tls is not None:  # one file holds the key and the certificate chain
            pem = files.enter_context(tls.server.private_key_and_cert_chain_pem.tempfile())
        config = uvicorn.Config(
            app,
            http="httptools",
            access_log=False,
            lifespan="on",
            log_level="warning",
            timeout_graceful_shutdown=5,
            ssl_certfile=pem,
            ssl_keyfile=pem,
        )
        server = uvicorn.Server(config)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        scheme = "https" if tls is not None else "http"
        try:
            async with asyncio.timeout(10):
                while not server.started:
                    if task.done():
                        await task  # raises what stopped it
                    await asyncio.sleep(0.01)
            yield Running(server, task, f"{scheme}://127.0.0.1:{sock.getsockname()[1]}")
        finally:
            server.should_exit = True
            async with asyncio.timeout(10):
                await task
            sock.close()
