"""schemathesis against the on-call operations of /openapi.json (SQLite and PostgreSQL): generated valid and
invalid requests, authenticated; no answer may be a 5xx. Bounded and derandomized like tests/server's."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.server.harness import Harness
from tests.server.support import AUTH, alert, notification

MAX_EXAMPLES = 20
ONCALL_PATHS = ("/api/v1/people", "/api/v1/schedules", "/api/v1/overrides", "/api/v1/response-times",
                "/api/v1/integrations", "/api/v1/incidents/{incident_id}/roles")


def test_no_server_errors_in_the_oncall_api(oncall: Harness) -> None:
    oncall.post_alerts(notification(alert()))
    schema = schemathesis.openapi.from_asgi("/openapi.json", oncall.client.app)
    operations = [op for op in (result.ok() for result in schema.get_all_operations())
                  if op.path.startswith(ONCALL_PATHS)]
    assert len(operations) >= 15, [op.label for op in operations]
    server_errors: list[str] = []
    calls = 0
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            def run(case: schemathesis.Case) -> None:
                nonlocal calls
                calls += 1
                response = case.call(headers={**(case.headers or {}), **AUTH})
                if response.status_code >= 500:
                    server_errors.append(f"{case.method} {case.formatted_path} {case.query} {case.body!r:.300}: "
                                         f"{response.status_code} {response.text[:300]}")

            try:
                run()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, operation.label
    assert calls > 150
    assert not server_errors, "\n".join(server_errors[:10])
