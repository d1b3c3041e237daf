"""A report as HTML (self-contained: inline CSS and SVG charts), Markdown (charts as SVG files
beside it) or PDF (the HTML printed by Debian's chromium, `--print-to-pdf`)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from fireline.reports.build import Report, SLOReport
from fireline.ui.charts import Band, Threshold, budget_burndown_svg

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
# Without these chromium stalls on a machine without network (background updates, QUIC probing).
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-pdf-header-footer")
PDF_TIMEOUT_SECONDS = 120


class ReportRenderError(RuntimeError):
    """The report could not be written in the asked format (e.g. no chromium for PDF)."""


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s" if secs and minutes < 10 else f"{minutes}m"
    return f"{secs}s"


def percent(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.{digits}f}%"


def when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def chart(report: Report, slo: SLOReport, chart_id: str) -> str:
    bands = [Band(e.start.timestamp(), e.end.timestamp(), f"excluded: {e.reason}") for e in slo.exclusions]
    return budget_burndown_svg(
        slo.burndown, start=report.period.start.timestamp(), end=report.period.end.timestamp(),
        step=(report.period.end - report.period.start).total_seconds() / max(len(slo.burndown), 1),
        boundaries=[Threshold(v, label) for v, label in report.boundaries], exclusions=bands,
        title=f"{slo.service} {slo.slo.name}: error budget over {report.period.label}", chart_id=chart_id)


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("fireline.reports", "templates"), autoescape=select_autoescape(
        enabled_extensions=("html.j2",), default_for_string=False, default=False), trim_blocks=True,
        lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["percent"] = percent
    env.filters["duration"] = duration_text
    env.filters["when"] = when
    return env


def chart_id(slo: SLOReport) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in f"{slo.service}-{slo.slo.name}")


def render_html(report: Report) -> str:
    charts = {chart_id(s): chart(report, s, chart_id(s)) for svc in report.services for s in svc.slos}
    return _environment().get_template("report.html.j2").render(report=report, charts=charts, chart_id=chart_id)


def _md_cell(text: object) -> str:
    # A pipe or a line break would end the table cell early.
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report, assets: Path | None, assets_link: str) -> str:
    """Markdown; with assets, each SLO's chart is written there as SVG and linked (assets_link/NAME.svg)."""
    links: dict[str, str] = {}
    if assets is not None:
        assets.mkdir(parents=True, exist_ok=True)
        for service in report.services:
            for slo in service.slos:
                name = f"{chart_id(slo)}.svg"
                (assets / name).write_text(chart(report, slo, chart_id(slo)), encoding="utf-8")
                links[chart_id(slo)] = f"{assets_link}/{name}"
    env = _environment()
    env.filters["cell"] = _md_cell
    return env.get_template("report.md.j2").render(report=report, links=links, chart_id=chart_id)


def find_chromium() -> str | None:
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def render_pdf(report: Report, out: Path) -> None:
    chromium = find_chromium()
    if chromium is None:
        raise ReportRenderError("PDF needs chromium (Debian package chromium; `make install` adds it): "
                                "use --format html or md instead")
    with tempfile.TemporaryDirectory(prefix="fireline-report-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(render_html(report), encoding="utf-8")
        target = out.resolve()
        try:
            done = subprocess.run(
                [chromium, *CHROMIUM_ARGS, f"--user-data-dir={Path(tmp) / 'profile'}",
                 f"--print-to-pdf={target}", page.as_uri()],
                capture_output=True, text=True, timeout=PDF_TIMEOUT_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            raise ReportRenderError(f"chromium did not print the PDF within {PDF_TIMEOUT_SECONDS}s") from None
        if done.returncode != 0 or not target.exists() or target.stat().st_size == 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise ReportRenderError(f"chromium could not print the PDF (exit {done.returncode}): {' '.join(tail)}")
