"""`calbridge sandbox`: run the provider emulators on loopback until interrupted."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import typer

from calbridge.logs import configure_logging
from calbridge_app.cli.common import console, ensure_port_free, run


def sandbox(
    seed: Annotated[int, typer.Option(help="Seed for ids and fault draws; the same seed repeats a run.")] = 0,
    connection_file: Annotated[
        Path | None,
        typer.Option(help="Write endpoints, CA, service-account key and app credentials here (JSON)."),
    ] = None,
    port: Annotated[int, typer.Option(help="Port of the Google + control server (0: any free port).")] = 0,
    plain_http_webhooks: Annotated[
        bool,
        typer.Option(
            help="Let Graph notify plain-http receivers on loopback (a local run's receiver); "
            "real Graph accepts only HTTPS."
        ),
    ] = False,
) -> None:
    """Run the Google / Microsoft emulators and the control API on 127.0.0.1 until Ctrl-C."""
    configure_logging("console", "warning")  # the endpoints on stdout are what matters here
    ensure_port_free("127.0.0.1", port)
    run(_serve(seed, connection_file, port, plain_http_webhooks))


async def _serve(seed: int, connection_file: Path | None, port: int, plain_http_webhooks: bool) -> None:
    from sandbox.server import SandboxServer

    server = SandboxServer(seed=seed, http_port=port, plain_http_webhooks=plain_http_webhooks)
    info = await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        if connection_file is not None:
            info.write(connection_file)
        console.print(f"[bold]Google Calendar[/]  {info.google_api_endpoint}")
        console.print(f"[bold]Google token[/]     {info.google_token_uri}")
        for name, url in info.https_endpoints.items():
            console.print(f"[bold]{name:<17}[/]{url}")
        console.print(f"[bold]Control API[/]      {info.control_url}")
        users = ", ".join(u["email"] for u in info.users)
        console.print(f"[bold]Users[/]            {users}", soft_wrap=True)
        if connection_file is not None:
            console.print(f"[bold]Connection file[/]  {connection_file}")
        console.print("Running; press Ctrl-C to stop.")
        await stop.wait()
    finally:
        await server.stop()
