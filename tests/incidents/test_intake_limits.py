"""Nothing lost to a 4xx Alertmanager will not retry: over-long text is cut with a marker and kept, labels
beyond the limit are kept up to it and the rest noted on the timeline, lone surrogates and NUL replaced;
422 only for bodies that are not Alertmanager's shape, 413 above server.max_body_bytes. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fireline.incidents.intake import MAX_LABEL_VALUE, MAX_LABELS, REPLACEMENT, TRUNCATED
from fireline.notify.capture import CaptureServer
from tests.server.harness import Harness
from tests.server.support import AUTH, alert, notification


def _post_raw(h: Harness, body: dict[str, Any]) -> Any:
    # ensure_ascii keeps a lone surrogate as the JSON escape \ud800, exactly as a Go sender writes it.
    return h.client.post("/api/v1/alerts/alertmanager", content=json.dumps(body, ensure_ascii=True).encode(),
                         headers={**AUTH, "Content-Type": "application/json"})


def _accepted(h: Harness, body: dict[str, Any]) -> dict[str, Any]:
    response = _post_raw(h, body)
    assert response.status_code == 200, response.text
    return h.incident(response.json()["incident_id"])


def test_a_5000_character_description_is_cut_with_a_marker_and_kept(harness: Harness) -> None:
    first = alert()
    first["annotations"]["description"] = "d" * 5000
    second = alert(fingerprint="fp2")  # the other alert of the group is not lost with it
    incident = _accepted(harness, notification(first, second))
    stored = {a["fingerprint"]: a for a in incident["alerts"]}
    assert set(stored) == {"fp1", "fp2"}
    description = stored["fp1"]["annotations"]["description"]
    assert len(description) == MAX_LABEL_VALUE and description.endswith(TRUNCATED)
    note = next(e for e in incident["timeline"] if e["kind"] == "intake_note")
    assert "'description' cut from 5000 to 4096 characters" in note["message"]


def test_labels_beyond_the_limit_are_kept_up_to_it_and_the_rest_noted(harness: Harness) -> None:
    extra = {f"extra_{i:03d}": str(i) for i in range(140)}
    incident = _accepted(harness, notification(alert(**extra)))
    [stored] = incident["alerts"]
    labels = stored["labels"]
    assert len(labels) == MAX_LABELS
    # What the alert is and whose it is stays: the identifying labels are kept first.
    assert labels["alertname"] == "CheckoutAvailabilityErrorBudgetBurn" and labels["team"] == "payments"
    assert incident["team"] == "payments" and incident["service"] == "checkout"
    total = 6 + 140
    left_out = total - MAX_LABELS
    note = next(e for e in incident["timeline"] if e["kind"] == "intake_note")
    assert f"{left_out} labels beyond the limit of {MAX_LABELS} not kept" in note["message"]
    assert "extra_139" in note["message"] and "extra_139" not in labels


def test_a_lone_surrogate_and_nul_are_replaced_not_a_500(harness: Harness) -> None:
    body = notification(alert(team="payments", pod="web-\ud800-1"))
    body["alerts"][0]["annotations"]["summary"] = "broken \udfff text with a \x00 byte"
    body["alerts"][0]["labels"]["na\ud800me"] = "x"
    incident = _accepted(harness, body)
    [stored] = incident["alerts"]
    assert stored["labels"]["pod"] == f"web-{REPLACEMENT}-1"
    assert stored["labels"][f"na{REPLACEMENT}me"] == "x"
    assert stored["annotations"]["summary"] == f"broken {REPLACEMENT} text with a {REPLACEMENT} byte"


def test_long_identities_and_columns_are_stored(harness: Harness) -> None:
    # A 300-character service label, a 300-character label name, a 2000-character group key: all kept
    # (the incident's 255-character columns get a prefix; group keys keep a digest so groups stay apart).
    long_name = "n" * 300
    one = alert(service="s" * 300, **{long_name: "v"})
    first = _accepted(harness, notification(one, group_key="g" * 2000))
    assert first["service"] == "s" * 255
    [stored] = first["alerts"]
    assert stored["labels"]["service"] == "s" * 300
    assert any(len(name) == 255 and name.endswith(TRUNCATED) for name in stored["labels"])
    second = _accepted(harness, notification(alert(fingerprint="other"), group_key="g" * 1999 + "h"))
    assert second["id"] != first["id"], "group keys that differ only past the limit stay two groups"
    assert len(first["group_key"]) == 1024


def test_an_empty_fingerprint_is_derived_from_the_labels(harness: Harness) -> None:
    incident = _accepted(harness, notification(alert(fingerprint="")))
    [stored] = incident["alerts"]
    assert len(stored["fingerprint"]) == 16
    again = _accepted(harness, notification(alert(fingerprint="", status="resolved",
                                                  ends="2026-11-29T12:10:00Z")))
    assert again["id"] == incident["id"] and again["alerts"][0]["status"] == "resolved"


@pytest.mark.parametrize("mutate", [
    lambda b: b.update(version="3"),
    lambda b: b.pop("alerts"),
    lambda b: b.update(alerts=[]),
    lambda b: b["alerts"][0].update(status="pending"),
    lambda b: b["alerts"][0].update(labels={"a": 1}),
    lambda b: b.update(alerts="none"),
])
def test_only_bodies_not_shaped_like_alertmanagers_are_422(harness: Harness, mutate: Any) -> None:
    body = notification(alert())
    mutate(body)
    assert _post_raw(harness, body).status_code == 422


def test_over_max_body_bytes_is_413_not_truncated(database_url: str, capture: CaptureServer, tmp_path: Path) -> None:
    with Harness.start(database_url, capture, tmp_path, server={"max_body_bytes": 8192}) as h:
        body = notification(alert())
        body["alerts"][0]["annotations"]["description"] = "d" * 9000
        assert _post_raw(h, body).status_code == 413
        assert h.get("/api/v1/incidents") == []
