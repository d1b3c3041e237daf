"""schemathesis against /openapi.json on SQLite and PostgreSQL: valid and invalid generated requests,
authenticated; no answer may be a 5xx (bad input is a 4xx with a reason). Bounded: fixed max examples
per operation and generation mode, derandomized so a run is repeatable."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.server.harness import Harness
from tests.server.support import AUTH, alert, notification

MAX_EXAMPLES = 25


def test_no_server_errors(harness: Harness) -> None:
    # Incidents to act on: generated ids include 1 (the documented example), so transitions really run.
    harness.post_alerts(notification(alert()))
    harness.post_alerts(notification(alert(fingerprint="b", service="search"), group_key="search"))
    schema = schemathesis.openapi.from_asgi("/openapi.json", harness.client.app)
    server_errors: list[str] = []
    calls = 0
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
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
                # Operations without parameters or body have no invalid variant to generate.
                assert mode is GenerationMode.NEGATIVE, operation.label
    assert calls > 200
    assert not server_errors, "\n".join(server_errors[:10])
