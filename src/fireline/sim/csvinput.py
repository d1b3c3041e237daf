"""SLI history and incident windows from CSV files, with errors that name the file and line.

History: a header `timestamp,total,errors` (or `timestamp,total,good`), then one row per scrape.
Timestamps are Unix seconds or RFC 3339; an empty total/errors cell is a missing scrape. Values are
counters (as scraped; drops are counter resets) or per-second rates over the interval ending at the
row, integrated into counters here.

Incidents: a header `start,end`, one row per incident; an empty end means it was still going.
"""

from __future__ import annotations

import csv
import math
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import numpy as np

from fireline.sim.errors import SimInputError
from fireline.sim.history import Incident, SLIHistory


class CSVValues(StrEnum):
    COUNTERS = "counters"
    RATES = "rates"


def parse_timestamp_ms(text: str, where: str) -> int:
    text = text.strip()
    try:
        return round(float(text) * 1000)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SimInputError(f"{where}: {text!r} is not a timestamp (Unix seconds or RFC 3339)") from None
    if moment.tzinfo is None:
        raise SimInputError(f"{where}: timestamp {text!r} has no time zone (add Z or +00:00)")
    return round(moment.timestamp() * 1000)


def _number(text: str, where: str, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SimInputError(f"{where}: {column} {text!r} is not a number") from None
    if math.isnan(value) or math.isinf(value) or value < 0:
        raise SimInputError(f"{where}: {column} must be a finite number >= 0, got {text!r}")
    return value


def _rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SimInputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SimInputError(f"{path}: not a UTF-8 text file") from None
    reader = csv.reader(text.splitlines())
    rows = [(reader.line_num, row) for row in reader if row and not row[0].lstrip().startswith("#")]
    if not rows:
        raise SimInputError(f"{path}: empty file; expected a header line")
    _, header = rows[0]
    return [h.strip().lower() for h in header], rows[1:]


def read_history_csv(path: Path, values: CSVValues = CSVValues.COUNTERS) -> SLIHistory:
    header, rows = _rows(path)
    if "timestamp" not in header or "total" not in header or not ({"errors", "good"} & set(header)):
        raise SimInputError(f"{path}:1: header must name timestamp, total and errors (or good), got {','.join(header)}")
    col_t, col_total = header.index("timestamp"), header.index("total")
    bad_name = "errors" if "errors" in header else "good"
    col_bad = header.index(bad_name)
    times: list[int] = []
    totals: list[float] = []
    bads: list[float] = []
    for line, row in rows:
        where = f"{path}:{line}"
        if len(row) != len(header):
            raise SimInputError(f"{where}: expected {len(header)} columns like the header, got {len(row)}")
        t = parse_timestamp_ms(row[col_t], where)
        if times and t <= times[-1]:
            raise SimInputError(f"{where}: timestamps must increase (this row is not after the previous one)")
        total_text, bad_text = row[col_total].strip(), row[col_bad].strip()
        if not total_text or not bad_text:
            continue  # a failed scrape
        total = _number(total_text, where, "total")
        bad = _number(bad_text, where, bad_name)
        if bad > total and values is CSVValues.RATES:
            raise SimInputError(f"{where}: {bad_name} ({bad_text}) is more than total ({total_text})")
        times.append(t)
        totals.append(total)
        bads.append(bad)
    if len(times) < 2:
        raise SimInputError(f"{path}: needs at least two rows with values to compute any rate")
    ts = np.array(times, dtype=np.int64)
    total_arr = np.array(totals, dtype=np.float64)
    bad_arr = np.array(bads, dtype=np.float64)
    if values is CSVValues.RATES:
        seconds = np.diff(ts).astype(np.float64) / 1000
        total_arr = np.concatenate(([0.0], np.cumsum(total_arr[1:] * seconds)))
        bad_arr = np.concatenate(([0.0], np.cumsum(bad_arr[1:] * seconds)))
    errors = bad_arr if bad_name == "errors" else total_arr - bad_arr
    return SLIHistory(ts, total_arr, errors)


def read_incidents_csv(path: Path) -> tuple[Incident, ...]:
    header, rows = _rows(path)
    if header[:2] != ["start", "end"]:
        raise SimInputError(f"{path}:1: header must be start,end, got {','.join(header)}")
    incidents = []
    for line, row in rows:
        where = f"{path}:{line}"
        if len(row) < 2:
            raise SimInputError(f"{where}: expected start,end (end may be empty)")
        start = parse_timestamp_ms(row[0], where)
        end = parse_timestamp_ms(row[1], where) if row[1].strip() else None
        if end is not None and end <= start:
            raise SimInputError(f"{where}: end is not after start")
        incidents.append(Incident(start, end))
    return tuple(sorted(incidents, key=lambda i: i.start_ms))
