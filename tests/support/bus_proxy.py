"""A loopback TCP proxy in front of RabbitMQ that can stall or cut the link without touching the broker.

The broker is shared by everyone's tests, so outages are simulated here instead:

- `stall()` / `resume()`: connections stay open but no bytes pass (a hung broker: publishes time out);
- `cut()` / `restore()`: every connection is aborted and new ones are refused until restored (a broker
  that went away: clients see the connection drop and reconnect once it is back). `refused` counts
  the connection attempts turned away, so a test can keep the broker away until a client tried again.
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["BrokerProxy", "StallingProxy"]


class BrokerProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._cut = False
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.refused = 0  # connection attempts turned away while cut

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def url_for(self, amqp_url: str) -> str:
        """`amqp_url` (pointing at the broker) rewritten to go through this proxy."""
        host, port = self._target
        return amqp_url.replace(f"{host}:{port}", f"127.0.0.1:{self.port}", 1)

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def cut(self) -> None:
        """Abort every connection (nothing buffered gets through) and refuse new ones."""
        self._cut = True
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def restore(self) -> None:
        self._cut = False

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut()
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self._cut:
            self.refused += 1
            client_writer.transport.abort()
            return
        try:
            broker_reader, broker_writer = await asyncio.open_connection(*self._target)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.update((client_writer, broker_writer))
        for source, sink in ((client_reader, broker_writer), (broker_reader, client_writer)):
            pipe = asyncio.create_task(self._pipe(source, sink))
            self._pipes.add(pipe)
            pipe.add_done_callback(self._pipes.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while chunk := await source.read(65536):
                await self._flowing.wait()
                if self._cut:
                    break
                sink.write(chunk)
                await sink.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(sink)
            with contextlib.suppress(Exception):
                sink.close()


StallingProxy = BrokerProxy  # its former name, for branches that still import it
