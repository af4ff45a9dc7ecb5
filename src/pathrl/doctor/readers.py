"""Read a run's metrics from JSONL, JSON (HF `trainer_state.json`), CSV (including SB3's
Monitor CSV) or TensorBoard events.

Every reader returns :class:`RawLog` objects: raw metric name -> [(step, value)]. Problems the
user can fix (missing path, empty file, unknown format, corrupt line) raise
:class:`~pathrl.errors.PathrlError` with the file and line; recoverable oddities (a truncated last
line from a run that is still writing, a missing step column) become notes in the report.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pathrl.doctor.signals import STEP_KEYS
from pathrl.errors import PathrlError

# File names pathrl's own trainers write, read first when a run directory holds them.
PATHRL_LOG_NAMES: tuple[str, ...] = ("metrics.jsonl", "sft_metrics.jsonl")
SUPPORTED_FORMATS = (
    "JSONL (one object per line with a step key), JSON (a list of records or HF trainer_state.json "
    "with log_history), CSV with a header and a step column, SB3 Monitor CSV (#{json} line, then "
    "r,l,t), TensorBoard event files"
)
#: Episodes in SB3's rolling `rollout/ep_rew_mean`; the Monitor reader smooths the same way.
MONITOR_SMOOTHING_EPISODES = 100


@dataclass
class RawLog:
    """Metrics of one run as read from disk, before mapping to canonical signals."""

    source: str
    columns: dict[str, list[tuple[float, float]]]
    notes: list[str] = field(default_factory=list)
    #: Trainer families known from the file itself (a `trainer_state.json` is HF Trainer's).
    flavor_hints: frozenset[str] = frozenset()


def read_path(path: str | Path) -> list[RawLog]:
    """Read every run log found at `path` (a file, or a run directory)."""
    path = Path(path)
    if not path.exists():
        raise PathrlError(f"no such file or directory: {path}")
    if path.is_dir():
        return _read_directory(path)
    return [_read_file(path)]


def records_to_raw_log(records: Iterable[Mapping[str, Any]], source: str) -> RawLog:
    """Turn in-memory records (one dict per update, ideally with a `step` key) into a RawLog."""
    columns: dict[str, list[tuple[float, float]]] = {}
    notes: list[str] = []
    missing_step = False
    count = 0
    previous_step: float | None = None
    restarts: list[tuple[int, float, float]] = []  # (record number, step, step before it)
    for index, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise PathrlError(f"{source}: record {index + 1} is not an object: {record!r:.80}")
        count += 1
        flat = _flatten(record)
        step = _step_of(flat)
        if step is None:
            missing_step = True
            step = float(index)
        else:
            if previous_step is not None and step < previous_step:
                restarts.append((index + 1, step, previous_step))
            previous_step = step
        for name, value in flat.items():
            if name.lower() in STEP_KEYS:
                continue
            number = _as_number(value)
            if number is not None:
                columns.setdefault(name, []).append((step, number))
    if count == 0:
        raise PathrlError(f"{source}: no metric records (the log is empty)")
    if missing_step:
        notes.append(
            f"{source}: some records have no step column ({', '.join(STEP_KEYS[:3])}...); "
            "their position in the file was used as the step"
        )
    if not columns:
        raise PathrlError(f"{source}: the records contain no numeric metrics")
    if restarts:
        notes.append(_restart_note(source, restarts, "record"))
    return RawLog(source, columns, notes)


def _restart_note(source: str, restarts: list[tuple[int, float, float]], unit: str) -> str:
    """Steps that go backwards: several runs (or a resumed one) appended to one log."""
    where, step, before = restarts[0]
    return (f"{source}: the step goes back {len(restarts)} time(s), first at {unit} {where} "
            f"(step {step:g} after {before:g}); the log may mix several runs: its trends and "
            "windows are judged as if it were one run. Split it per run for a clean diagnosis")


def _read_directory(directory: Path) -> list[RawLog]:
    pathrl_logs = [directory / n for n in PATHRL_LOG_NAMES if (directory / n).is_file()]
    if pathrl_logs:
        # The TensorBoard events next to them carry the same scalars: read one copy only.
        return [_read_file(p) for p in pathrl_logs]
    files = sorted(p for p in directory.iterdir() if p.is_file())
    monitors = [p for p in files if _is_monitor_csv(p)]
    tables = [p for p in files if p.suffix in {".jsonl", ".csv"} and p not in monitors]
    if tables:
        return [_read_file(p) for p in [*tables, *monitors]]
    trainer_state = _latest_trainer_state(directory)
    if trainer_state is not None:
        return [_read_file(trainer_state)]
    # A standard SB3 run directory: monitor.csv (episodes) beside PPO_1/ (TensorBoard updates).
    logs = [_read_monitor_csv(p) for p in monitors]
    event_dirs = sorted({p.parent for p in directory.rglob("*tfevents*") if p.is_file()})
    tensorboard = [log for log in (_read_tensorboard(d) for d in event_dirs) if log.columns]
    if event_dirs and not tensorboard and not logs:
        raise PathrlError(f"{directory}: the TensorBoard event files contain no scalars")
    logs += tensorboard
    if logs:
        return logs
    raise PathrlError(
        f"{directory}: no run log found; expected {', '.join(PATHRL_LOG_NAMES)}, "
        f"*.jsonl, *.csv, trainer_state.json or TensorBoard event files"
    )


def _latest_trainer_state(directory: Path) -> Path | None:
    direct = directory / "trainer_state.json"
    if direct.is_file():
        return direct
    candidates = list(directory.glob("checkpoint-*/trainer_state.json"))

    def checkpoint_number(p: Path) -> int:
        suffix = p.parent.name.removeprefix("checkpoint-")
        return int(suffix) if suffix.isdigit() else -1

    return max(candidates, key=checkpoint_number) if candidates else None


def _read_file(path: Path) -> RawLog:
    if "tfevents" in path.name:
        log = _read_tensorboard(path)
        if not log.columns:
            raise PathrlError(f"{path}: the TensorBoard event file contains no scalars")
        return log
    if path.stat().st_size == 0:
        raise PathrlError(f"{path}: the file is empty")
    suffix = path.suffix.lower()
    if _is_monitor_csv(path):
        return _read_monitor_csv(path)
    if suffix == ".csv":
        return _read_csv(path)
    if suffix == ".json":
        return _read_json(path)
    if suffix == ".jsonl":
        return _read_jsonl(path)
    head = _head(path)
    if head.lstrip().startswith("{"):
        return _read_jsonl(path)
    raise PathrlError(f"{path}: unknown log format; pathrl doctor reads {SUPPORTED_FORMATS}")


def _head(path: Path, size: int = 512) -> str:
    with path.open("rb") as handle:
        return handle.read(size).decode("utf-8", errors="replace")


def _read_jsonl(path: Path) -> RawLog:
    lines = _read_text(path).splitlines()
    numbered = [(i + 1, line) for i, line in enumerate(lines) if line.strip()]
    if not numbered:
        raise PathrlError(f"{path}: the file is empty")
    records: list[Mapping[str, Any]] = []
    notes: list[str] = []
    for position, (line_no, line) in enumerate(numbered):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if position == len(numbered) - 1:
                # A run still writing (or killed mid-write) leaves a partial last line.
                notes.append(f"{path.name}: line {line_no} is truncated and was ignored")
                continue
            raise PathrlError(
                f"{path}:{line_no}: not valid JSON ({exc.msg}); expected one JSON object per line"
            ) from exc
        if not isinstance(record, dict):
            raise PathrlError(f"{path}:{line_no}: expected a JSON object, got {line.strip():.60}")
        records.append(record)
    if not records:
        raise PathrlError(f"{path}: the only line is truncated; no complete record to read")
    log = records_to_raw_log(records, str(path))
    log.notes = notes + log.notes
    return log


def _read_json(path: Path) -> RawLog:
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        # A .json file that is really JSON Lines.
        if _head(path).lstrip().startswith("{") and "\n{" in _read_text(path):
            return _read_jsonl(path)
        raise PathrlError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if isinstance(data, dict) and isinstance(data.get("log_history"), list):
        if not data["log_history"]:
            raise PathrlError(f"{path}: log_history is empty (the run logged nothing yet)")
        log = records_to_raw_log(data["log_history"], str(path))
        log.flavor_hints = frozenset({"hf_trainer"})
        return log
    if isinstance(data, list):
        return records_to_raw_log(data, str(path))
    raise PathrlError(
        f"{path}: unknown JSON layout; expected a list of records or an object with log_history"
    )


def _read_csv(path: Path) -> RawLog:
    text = _read_text(path)
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames:
        raise PathrlError(f"{path}: the CSV file has no header row")
    rows = list(reader)
    if not rows:
        raise PathrlError(f"{path}: the CSV file has a header but no rows")
    notes: list[str] = []
    header_width = len(reader.fieldnames)
    last = rows[-1]
    if None in last.values() or len([v for v in last.values() if v is not None]) < header_width:
        notes.append(f"{path.name}: the last row is truncated; its missing cells were ignored")
    # A lone "Step"/"step" column (W&B exports) is the step whatever its case.
    records = [{k.strip(): v for k, v in row.items() if k is not None} for row in rows]
    log = records_to_raw_log(records, str(path))
    log.notes = notes + log.notes
    return log


def _is_monitor_csv(path: Path) -> bool:
    """SB3's Monitor wrapper writes `*monitor.csv` starting with a `#{json}` metadata line."""
    if path.suffix.lower() != ".csv" or not path.name.endswith("monitor.csv"):
        return False
    return path.is_file() and _head(path, 2) == "#{"


def _read_monitor_csv(path: Path) -> RawLog:
    """One row per finished episode: return `r`, length `l`, wall time `t`.

    The step is the environment step at which the episode ended (cumulative `l`), the unit of
    SB3's TensorBoard logs; `monitor/ep_rew_mean` is the rolling mean over the last
    :data:`MONITOR_SMOOTHING_EPISODES` episodes, as SB3 logs `rollout/ep_rew_mean`.
    """
    lines = _read_text(path).splitlines()
    body = [line for line in lines[1:] if line.strip()]
    reader = csv.DictReader(body)
    if not reader.fieldnames or not {"r", "l"} <= set(reader.fieldnames):
        raise PathrlError(f"{path}: an SB3 Monitor CSV needs the columns r,l,t after its # line")
    returns: list[float] = []
    lengths: list[float] = []
    notes: list[str] = []
    for row_no, row in enumerate(reader, start=3):
        reward, length = _as_number(row.get("r")), _as_number(row.get("l"))
        if reward is None or length is None:
            if row_no - 2 == len(body) - 1:
                notes.append(f"{path.name}: line {row_no} is truncated and was ignored")
                continue
            raise PathrlError(f"{path}:{row_no}: expected numbers in r and l, got {row}")
        returns.append(reward)
        lengths.append(length)
    if not returns:
        raise PathrlError(f"{path}: the Monitor CSV has no finished episode")
    steps = [float(s) for s in _cumulative(lengths)]
    smoothed = _rolling_mean(returns, MONITOR_SMOOTHING_EPISODES)
    columns = {
        "monitor/r": list(zip(steps, returns, strict=True)),
        "monitor/l": list(zip(steps, lengths, strict=True)),
        "monitor/ep_rew_mean": list(zip(steps, smoothed, strict=True)),
    }
    return RawLog(str(path), columns, notes, frozenset({"sb3"}))


def _cumulative(values: list[float]) -> list[float]:
    total, out = 0.0, []
    for value in values:
        total += value
        out.append(total)
    return out


def _rolling_mean(values: list[float], size: int) -> list[float]:
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= size:
            total -= values[i - size]
        out.append(total / min(i + 1, size))
    return out


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PathrlError(
            f"{path}: not a text file; pathrl doctor reads {SUPPORTED_FORMATS}"
        ) from exc


def _read_tensorboard(path: Path) -> RawLog:
    from tensorboard.backend.event_processing.event_accumulator import (
        SCALARS,
        TENSORS,
        EventAccumulator,
    )

    notes = [note for note in map(_truncation_note, _event_files(path)) if note]
    accumulator = EventAccumulator(str(path), size_guidance={SCALARS: 0, TENSORS: 0})
    try:
        accumulator.Reload()
    except Exception as exc:  # corrupt protobufs surface as various tensorboard errors
        raise PathrlError(f"{path}: cannot read the TensorBoard events ({exc})") from exc
    columns: dict[str, list[tuple[float, float]]] = {}
    tags = accumulator.Tags()
    for tag in tags.get(SCALARS, []):
        columns[tag] = [(float(e.step), float(e.value)) for e in accumulator.Scalars(tag)]
    for tag in tags.get(TENSORS, []):
        points = _scalar_tensor_points(accumulator.Tensors(tag))
        if points and tag not in columns:
            columns[tag] = points
    for tag, points in columns.items():
        restarts = [(i + 2, points[i + 1][0], points[i][0]) for i in range(len(points) - 1)
                    if points[i + 1][0] < points[i][0]]
        if restarts:
            notes.append(_restart_note(f"{path} ({tag})", restarts, "event"))
            break  # one note per file: every tag of a mixed log restarts at the same place
    return RawLog(str(path), columns, notes)


def _event_files(path: Path) -> list[Path]:
    return [path] if path.is_file() else sorted(
        p for p in path.iterdir() if p.is_file() and "tfevents" in p.name)


def _truncation_note(path: Path) -> str | None:
    """A note when an event file ends inside a record (a run still writing, a disk that filled
    up, a copy cut short): TensorBoard drops the partial record without a word.

    Event files are TFRecord streams: 8-byte little-endian length, 4-byte CRC, the payload,
    4-byte CRC. Walking the length fields (no payload is read) finds where the last complete
    record ends."""
    size = path.stat().st_size
    end = 0
    with path.open("rb") as handle:
        while end < size:
            header = handle.read(12)
            if len(header) < 12:
                break
            length = int.from_bytes(header[:8], "little")
            if end + 12 + length + 4 > size:
                break
            end += 12 + length + 4
            handle.seek(end)
    if end == size:
        return None
    return (f"{path.name}: the TensorBoard file is truncated ({size - end} bytes of a partial "
            "last record ignored); the run may still be writing, or the file was cut short")


def _scalar_tensor_points(events: list[Any]) -> list[tuple[float, float]]:
    from tensorboard.util import tensor_util

    points = []
    for event in events:
        array = tensor_util.make_ndarray(event.tensor_proto)
        if array.size != 1 or array.dtype.kind not in "fiub":
            return []
        points.append((float(event.step), float(array.reshape(()))))
    return points


def _flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}/"))
        else:
            flat[name] = value
    return flat


def _step_of(record: Mapping[str, Any]) -> float | None:
    lowered = {k.lower(): v for k, v in record.items()}
    for key in STEP_KEYS:
        number = _as_number(lowered.get(key))
        if number is not None and math.isfinite(number):
            return number
    return None


def _as_number(value: Any) -> float | None:
    """Numbers, booleans and numeric strings ("nan", "1e-3") count; anything else is ignored."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            return None
    return None
