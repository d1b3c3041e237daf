"""`--plot`: the error ratio, each window's burn rate against its threshold, and the firing spans."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fireline.rules.sli import BASE_WINDOW
from fireline.sim.engine import PolicyResult, Span, error_ratio_series
from fireline.sim.history import SLIHistory
from fireline.slo.durations import Duration
from fireline.slo.tiers import decimal_text


def plot_backtest(history: SLIHistory, results: list[PolicyResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only: never needs a display
    import matplotlib.pyplot as plt

    first = results[0]
    eval_ms = first.eval_ms
    hours = (eval_ms - history.reference_ms) / 3_600_000
    rows = sum(len(r.tiers) for r in results)
    figure, (ratio_ax, burn_ax, span_ax) = plt.subplots(
        3, 1, figsize=(11, 8 + 0.2 * rows), sharex=True, gridspec_kw={"height_ratios": [2, 3, 1 + 0.3 * rows]}
    )
    target = first.target
    ratio_ax.plot(hours, error_ratio_series(history, target, eval_ms, BASE_WINDOW), lw=0.8, color="black",
                  label=f"error ratio over {BASE_WINDOW}")
    ratio_ax.axhline(float(target.error_budget), color="grey", ls="--", lw=0.8, label="error budget (burn 1)")
    ratio_ax.set_ylabel("error ratio")
    ratio_ax.legend(loc="upper right", fontsize=8)
    ratio_ax.set_title(f"{target.service}/{target.slo}: objective {1 - float(target.error_budget):.4%} "
                       f"over {target.window}")

    drawn: set[Duration] = set()
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for result in results:
        for index, tier in enumerate(result.tiers):
            colour = colours[index % len(colours)]
            for window, burn in tier.burn_rates.items():
                if window in drawn:
                    continue
                drawn.add(window)
                burn_ax.plot(hours, np.where(burn.present, burn.values, np.nan), lw=0.8, label=f"burn {window}")
            burn_ax.axhline(float(tier.tier.burn_rate), color=colour, ls=":", lw=0.8,
                            label=f"{result.policy.name} {tier.tier.key} > {decimal_text(tier.tier.burn_rate)}")
    burn_ax.set_yscale("symlog", linthresh=1)
    burn_ax.set_ylim(bottom=0)
    burn_ax.set_ylabel("burn rate")
    burn_ax.legend(loc="upper right", fontsize=7, ncol=2)

    # One row per alert: each tier, then the trickle ticket when the policy has one.
    bars: list[tuple[str, list[Span], str]] = []
    for result in results:
        for tier in result.tiers:
            severity = tier.tier.severity.value
            bars.append((f"{result.policy.name} {severity} {tier.tier.key}", tier.spans,
                         "tab:red" if severity == "page" else "tab:orange"))
        if result.trickle is not None:
            bars.append((f"{result.policy.name} ticket {result.trickle.trickle.key}", result.trickle.spans,
                         "tab:orange"))
    labels = []
    for y, (label, spans, colour) in enumerate(bars):
        for span in spans:
            start = (span.fire_ms - history.reference_ms) / 3_600_000
            end_ms = span.resolve_ms if span.resolve_ms is not None else int(eval_ms[-1])
            span_ax.broken_barh([(start, (end_ms - span.fire_ms) / 3_600_000)], (y - 0.4, 0.8), color=colour)
        labels.append(label)
    for incident in history.incidents:
        start = (incident.start_ms - history.reference_ms) / 3_600_000
        end = ((incident.end_ms if incident.end_ms is not None else int(eval_ms[-1])) - history.reference_ms) \
            / 3_600_000
        for ax in (ratio_ax, burn_ax, span_ax):
            ax.axvspan(start, end, color="tab:blue", alpha=0.08)
    span_ax.set_yticks(range(len(labels)), labels, fontsize=7)
    span_ax.set_ylim(-0.6, max(len(labels), 1) - 0.4)
    # Show a little of the clean history, not all of it: the incident is what matters.
    after = float(hours[-1]) if hours.size else 1.0
    span_ax.set_xlim(max(float(hours[0]) if hours.size else 0.0, -max(1.0, 0.1 * after)), after)
    span_ax.set_xlabel("hours since the incident started (shaded: incident)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
