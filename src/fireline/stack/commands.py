"""Commands that run local processes: the demo service (and the stack and drill around it)."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from fireline.stack.demo_service import DemoService


def register(app: typer.Typer) -> None:
    @app.command("demo-service")
    def demo_service(
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 9464,
        rps: Annotated[float, typer.Option(help="Synthetic requests per second it sends itself.")] = 10.0,
    ) -> None:
        """Serve GET /api/checkout with request metrics at /metrics and fault injection at POST /control."""
        if rps < 0:
            raise typer.BadParameter("must not be negative", param_hint="--rps")
        service = DemoService(rps=rps)
        try:
            bound = service.start(host, port)
        except OSError as exc:
            typer.echo(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"demo service on http://{host}:{bound} (metrics /metrics, faults POST /control), {rps:g} rps")
        done = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        try:
            done.wait()
        except KeyboardInterrupt:
            pass
        finally:
            service.stop()
