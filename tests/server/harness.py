"""An in-process fireline serve with a hand-moved clock and a hand-stepped scheduler."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fireline.notify.capture import CaptureServer
from fireline.server.app import create_app
from fireline.server.context import ServerContext, ServerExtension, make_context
from fireline.server.db import migrate
from fireline.server.scheduler import Scheduler
from fireline.spec.config import Config
from tests.server.support import AUTH, Clock, make_config

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@dataclass
class Harness:
    client: TestClient
    ctx: ServerContext
    clock: Clock
    capture: CaptureServer
    scheduler: Scheduler

    @classmethod
    @contextmanager
    def start(cls, database_url: str, capture: CaptureServer, tmp_path: Path, config: Config | None = None,
              extensions: Sequence[ServerExtension] = (), **config_args: Any) -> Iterator[Harness]:
        config = config or make_config(tmp_path, capture.url, **config_args)
        clock = Clock()
        ctx = make_context(config, database=database_url, clock=clock)
        app = create_app(ctx, extensions=list(extensions), run_scheduler=False)
        migrate(database_url)  # after create_app: the extensions' migrations are registered by then
        try:
            with TestClient(app, raise_server_exceptions=False) as client:
                yield cls(client, ctx, clock, capture, app.state.scheduler)
        finally:
            app.state.scheduler.stop()
            ctx.db.dispose()

    def post_alerts(self, body: dict[str, Any], **kwargs: Any) -> Any:
        return self.client.post("/api/v1/alerts/alertmanager", json=body, headers=AUTH, **kwargs)

    def get(self, path: str) -> Any:
        response = self.client.get(path, headers=AUTH)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: dict[str, Any] | None = None, actor: str = "alice") -> Any:
        return self.client.post(path, json=body, headers={**AUTH, "X-Fireline-Actor": actor})

    def tick(self, times: int = 1) -> None:
        """Run the scheduler jobs (escalation, outbox delivery) as the leader would."""
        for _ in range(times):
            assert self.scheduler.run_once()

    def incident(self, incident_id: int) -> dict[str, Any]:
        data: dict[str, Any] = self.get(f"/api/v1/incidents/{incident_id}")
        return data
