"""Signal patterns: the building blocks of rules (level, trend, spike, oscillation, ...).

Every pattern answers one question about a :class:`RunLog`: does the symptom show, and where?
``evaluate(log, tail=False)`` scans the whole run (after-the-fact diagnosis) and returns the first
flagged episode with its evidence; ``tail=True`` only looks at windows that end at the latest
point (the live callback, which must not re-flag old history at every update).

All patterns are robust to single outliers by construction: levels must hold for several
consecutive points, trends compare medians of window thirds against the series' own noise, and
oscillations need several alternating large swings. A lone spike never triggers anything except
the dedicated :class:`Spike` pattern, which itself wants repeated spikes.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from pathrl.doctor.findings import Evidence
from pathrl.doctor.signals import RunLog, Series, SignalRef

Region = Literal["any", "early", "late"]
Comparison = Literal[">", "<"]

# Share of the run that counts as "early" (and the minimum points it spans).
EARLY_FRACTION = 0.25
MIN_REGION_POINTS = 8
MAX_EVIDENCE_VALUES = 12


@dataclass
class Match:
    """A pattern's hit: the evidence and a strength used to pick the worst episode."""

    evidence: list[Evidence]
    strength: float = 1.0


class Pattern(ABC):
    """A symptom shape over one or more signals."""

    @abstractmethod
    def required_signals(self) -> list[SignalRef]:
        """Signals that must be present for the pattern to be checked."""

    @abstractmethod
    def evaluate(self, log: RunLog, tail: bool = False) -> Match | None:
        """The first flagged episode (whole run) or the episode ending now (tail)."""

    @abstractmethod
    def describe(self) -> str:
        """One line for the docs and the report: the signal shape and threshold."""

    def applicable(self, log: RunLog) -> bool:
        return all(log.resolve(ref) is not None for ref in self.required_signals())


# --------------------------------------------------------------------------- helpers


def _name(ref: SignalRef) -> str:
    return ref if isinstance(ref, str) else " | ".join(ref)


def _series(log: RunLog, ref: SignalRef) -> Series | None:
    series = log.resolve(ref)
    return series.finite() if series is not None else None


def _region(series: Series, region: Region) -> Series:
    n = len(series)
    if region == "any" or n <= MIN_REGION_POINTS:
        return series
    if region == "early":
        size = max(MIN_REGION_POINTS, math.ceil(EARLY_FRACTION * n))
        selection = slice(0, size)
    else:
        selection = slice(n // 2, n)
    return Series(series.name, series.raw_name, series.steps[selection], series.values[selection])


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, end) index pairs of consecutive True values."""
    runs: list[tuple[int, int]] = []
    start = None
    for i, flag in enumerate(mask):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i - 1))
            start = None
    if start is not None:
        runs.append((start, len(mask) - 1))
    return runs


def _noise_sigma(values: np.ndarray) -> float:
    """Point noise estimated from first differences; a trend or a lone spike barely moves it."""
    if len(values) < 3:
        return 0.0
    diffs = np.diff(values)
    mad = np.median(np.abs(diffs - np.median(diffs)))
    return float(1.4826 * mad / math.sqrt(2.0))


def _trailing_median(values: np.ndarray, size: int) -> np.ndarray:
    """Median of each point and up to `size - 1` finite points before it (NaN if none)."""
    n = len(values)
    if size <= 1 or n == 0:
        return values.copy()
    out = np.empty(n)
    head = min(size - 1, n)
    for i in range(head):  # the first points have a shorter history
        window = values[: i + 1]
        window = window[np.isfinite(window)]
        out[i] = np.median(window) if len(window) else np.nan
    if n >= size:
        windows = np.lib.stride_tricks.sliding_window_view(values, size)
        out[size - 1 :] = np.median(windows, axis=1)
    return out


@dataclass
class _TrendStats:
    start: float
    end: float
    change: float
    standard_error: float


def _trend_stats(values: np.ndarray) -> _TrendStats:
    third = max(1, len(values) // 3)
    start = float(np.median(values[:third]))
    end = float(np.median(values[-third:]))
    # Standard error of a difference of two medians of `third` noisy points each.
    standard_error = 1.2533 * _noise_sigma(values) * math.sqrt(2.0 / third)
    return _TrendStats(start, end, end - start, standard_error)


def _samples(series: Series, start: int, end: int) -> list[tuple[float, float]]:
    indices = np.arange(start, end + 1)
    if len(indices) > MAX_EVIDENCE_VALUES:
        positions = np.linspace(0, len(indices) - 1, MAX_EVIDENCE_VALUES).round().astype(int)
        indices = indices[positions]
    return [(float(series.steps[i]), float(series.values[i])) for i in indices]


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _step(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _windows(n: int, window: int, tail: bool) -> list[tuple[int, int]]:
    """Inclusive (start, end) windows of `window` points; the whole series when shorter or when
    `window` is 0 (whole-run patterns)."""
    if window <= 0 or n <= window:
        return [(0, n - 1)]
    if tail:
        return [(n - window, n - 1)]
    stride = max(1, window // 10)
    ends = list(range(window - 1, n, stride))
    if ends[-1] != n - 1:
        ends.append(n - 1)
    return [(end - window + 1, end) for end in ends]


def _merge(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _compare(values: np.ndarray, op: Comparison, threshold: float) -> np.ndarray:
    return values > threshold if op == ">" else values < threshold


# --------------------------------------------------------------------------- patterns


@dataclass
class Level(Pattern):
    """`signal op threshold` for at least `min_consecutive` consecutive points."""

    signal: SignalRef
    op: Comparison
    threshold: float
    min_consecutive: int = 3
    region: Region = "any"

    def required_signals(self) -> list[SignalRef]:
        return [self.signal]

    def describe(self) -> str:
        where = "" if self.region == "any" else f" in the {self.region} part of the run"
        return (
            f"`{_name(self.signal)}` {self.op} {self.threshold:g} for ≥ {self.min_consecutive} "
            f"consecutive points{where}"
        )

    def evaluate(self, log: RunLog, tail: bool = False) -> Match | None:
        series = _series(log, self.signal)
        if series is None or len(series) == 0:
            return None
        series = _region(series, self.region)
        runs = [
            r
            for r in _runs(_compare(series.values, self.op, self.threshold))
            if r[1] - r[0] + 1 >= self.min_consecutive
        ]
        if tail:
            runs = [r for r in runs if r[1] == len(series) - 1]
        if not runs:
            return None
        start, end = runs[0]
        flagged = np.concatenate([series.values[a : b + 1] for a, b in runs])
        worst = float(flagged.max() if self.op == ">" else flagged.min())
        worst_index = int(np.flatnonzero(series.values == worst)[0])
        episodes = "" if len(runs) == 1 else f"; {len(runs)} such episodes in total"
        observation = (
            f"{series.raw_name} {self.op} {self.threshold:g} for {end - start + 1} consecutive "
            f"points (steps {_step(series.steps[start])}–{_step(series.steps[end])}); "
            f"worst {_fmt(worst)} at step {_step(series.steps[worst_index])}{episodes}"
        )
        evidence = Evidence(
            signal=series.name,
            metric=series.raw_name,
            window=(float(series.steps[start]), float(series.steps[end])),
            observation=observation,
            threshold=self.threshold,
            values=_samples(series, start, end),
        )
        strength = abs(worst - self.threshold) / max(abs(self.threshold), 1e-12)
        return Match([evidence], strength)


@dataclass
class EdgeLevel(Pattern):
    """The median of the first (or last) `points` values is `op threshold`."""

    signal: SignalRef
    op: Comparison
    threshold: float
    at: Literal["start", "end"] = "start"
    points: int = 3
    min_points: int = 3

    def required_signals(self) -> list[SignalRef]:
        return [self.signal]

    def describe(self) -> str:
        return (
            f"median of the {'first' if self.at == 'start' else 'last'} {self.points} values of "
            f"`{_name(self.signal)}` {self.op} {self.threshold:g}"
        )

    def evaluate(self, log: RunLog, tail: bool = False) -> Match | None:
        series = _series(log, self.signal)
        if series is None or len(series) < self.min_points:
            return None
        n = len(series)
        if self.at == "start":
            start, end = 0, min(self.points, n) - 1
        else:
            start, end = max(n - self.points, 0), n - 1
        if tail and self.at == "start" and n != self.min_points:
            return None  # the start of the run is judged once, when enough points exist
        median = float(np.median(series.values[start : end + 1]))
        if not _compare(np.array([median]), self.op, self.threshold)[0]:
            return None
        observation = (
            f"{series.raw_name} at the {self.at} of the run (steps {_step(series.steps[start])}–"
            f"{_step(series.steps[end])}) is {_fmt(median)} ({self.op} {self.threshold:g})"
        )
        evidence = Evidence(
            series.name,
            series.raw_name,
            (float(series.steps[start]), float(series.steps[end])),
            observation,
            self.threshold,
            _samples(series, start, end),
        )
        return Match([evidence])


@dataclass
class Trend(Pattern):
    """`signal` moves `direction` by at least the given change within `window` points.

    The change is the difference between the medians of the window's last and first thirds; it
    must also exceed `z` standard errors of the series' own noise, so noisy-but-flat curves pass.
    """

    signal: SignalRef
    direction: Literal["up", "down"]
    window: int = 20
    min_abs_change: float = 0.0
    min_rel_change: float = 0.0
    z: float = 3.0
    min_points: int = 8
    region: Region = "any"

    def required_signals(self) -> list[SignalRef]:
        return [self.signal]

    def describe(self) -> str:
        parts = []
        if self.min_rel_change:
            parts.append(f"≥ {self.min_rel_change:.0%} relative")
        if self.min_abs_change:
            parts.append(f"≥ {self.min_abs_change:g} absolute")
        parts.append(f"> {self.z:g}σ of its noise")
        where = "" if self.region == "any" else f", {self.region} in the run"
        span = f"within {self.window} points" if self.window > 0 else "over the whole run"
        return f"`{_name(self.signal)}` trends {self.direction} {span} ({', '.join(parts)}{where})"

    def check(self, values: np.ndarray) -> _TrendStats | None:
        if len(values) < self.min_points:
            return None
        stats = _trend_stats(values)
        signed = stats.change if self.direction == "up" else -stats.change
        needed = max(
            self.min_abs_change,
            self.min_rel_change * abs(stats.start),
            self.z * stats.standard_error,
        )
        return stats if signed > 0 and signed >= needed else None

    def evaluate(self, log: RunLog, tail: bool = False) -> Match | None:
        series = _series(log, self.signal)
        if series is None or len(series) < self.min_points:
            return None
        series = _region(series, self.region)
        hits = [
            (w, stats)
            for w in _windows(len(series), self.window, tail)
            if (stats := self.check(series.values[w[0] : w[1] + 1])) is not None
        ]
        if not hits:
            return None
        start, end = _merge([w for w, _ in hits])[0]
        stats = _trend_stats(series.values[start : end + 1])
        return Match([self.evidence(series, start, end, stats)], abs(stats.change))

    def evidence(self, series: Series, start: int, end: int, stats: _TrendStats) -> Evidence:
        relative = (
            f" ({stats.change / abs(stats.start):+.0%})" if abs(stats.start) > 1e-12 else ""
        )
        observation = (
            f"{series.raw_name} went {self.direction} from {_fmt(stats.start)} to "
            f"{_fmt(stats.end)}{relative} over steps {_step(series.steps[start])}–"
            f"{_step(series.steps[end])}"
        )
        return Evidence(
            series.name,
            series.raw_name,
            (float(series.steps[start]), float(series.steps[end])),
            observation,
            None,
            _samples(series, start, end),
        )


@dataclass
class NoProgress(Pattern):
    """Over the run (≥ `min_points` points) `signal` does not rise significantly.

    Flagged when the gain stays below the largest of `min_abs_gain`, `min_rel_gain` × |start|
    and `z` noise standard errors. The gain is the median of the last third minus the first
    third's median or, when the last third is at least as high as the first, minus the lower of
    that and the median of the first `head_fraction` of the run. A run that learned in its first
    few percent and then held its level (first and last thirds equal, far above where it began)
    has progressed; comparing thirds alone calls it flat.
    """

    signal: SignalRef
    min_points: int = 20
    min_abs_gain: float = 0.0
    min_rel_gain: float = 0.05
    z: float = 2.0
    head_fraction: float = 0.05

    def required_signals(self) -> list[SignalRef]:
        return [self.signal]

    def describe(self) -> str:
        return (
            f"`{_name(self.signal)}` gains less than max({self.min_abs_gain:g}, "
            f"{self.min_rel_gain:.0%} of its start, {self.z:g}σ noise) over ≥ {self.min_points} "
            f"points: last-third median minus first-third median (or, if the level held, "
            f"minus the first-{self.head_fraction:.0%} median when lower)"
        )

    def gain(self, values: np.ndarray) -> tuple[float, float, float]:
        """(start level, end level, gain needed to count as progress)."""
        stats = _trend_stats(values)
        start = stats.start
        if stats.end >= stats.start:
            # Only a run that *held* its level may count its first few points as the start: one
            # that rose a little and fell back below its first third has not progressed.
            head = max(3, math.ceil(self.head_fraction * len(values)))
            start = min(start, float(np.median(values[:head])))
        needed = max(
            self.min_abs_gain, self.min_rel_gain * abs(start), self.z * stats.standard_error
        )
        return start, stats.end, needed

    def evaluate(self, log: RunLog, tail: bool = False) -> Match | None:
        series = _series(log, self.signal)
        if series is None or len(series) < self.min_points:
            return None
        start, end, needed = self.gain(series.values)
        change = end - start
        # A perfectly constant signal has zero noise; `needed` of 0 still means "did not rise".
        if change > needed or (needed == 0 and change > 0):
            return None
        n = len(series)
        observation = (
            f"{series.raw_name} stayed at {_fmt(start)} → {_fmt(end)} over "
            f"{n} points (steps {_step(series.steps[0])}–{_step(series.steps[-1])}); "
            f"a meaningful gain would be > {_fmt(needed)}"
        )
        evidence = Evidence(
            series.name,
            series.raw_name,
            (float(series.steps[0]), float(series.steps[-1])),
            observation,
            None,
            _samples(series, 0, n - 1),
        )
        return Match([evidence])


@dataclass
class Spike(Pattern):
    """At least `min_count` points within `window` exceed `factor` × the trailing median and
    `min_value`. One spike alone is noise (a bad batch); repeated spikes are a pattern."""

    signal: SignalRef
    factor: float = 10.0
    min_value: float = 0.0
    min_count: int = 2
    window: int = 50
    baseline: int = 10

    def required_signals(self) -> list[SignalRef]:
        return [self.signal]

    def describe(self) -> str:
        return (
            f"≥ {self.min_count} points of `{_name(self.signal)}` within {self.window} exceed "
            f"{self.factor:g}× the median of the previous {self.baseline} points and "
            f"{self.min_value:g}"
        )

    def evaluate(self, log: RunLog, tail: bool = False) -> Match | None:
        series = _series(log, self.signal)
        if series is None or len(series) < 4:
            return None
        values = series.values
        # Median of the `baseline` points before each point (NaN where there are none).
        previous = _trailing_median(np.concatenate([[np.nan], values[:-1]]), self.baseline)
        limits = np.maximum(self.factor * np.maximum(previous, 0.0), self.min_value)
        flagged = (values > limits) & (values > self.min_value) & np.isfinite(previous)
        flagged[:3] = False  # too little history to call anything a spike
        spikes = [int(i) for i in np.flatnonzero(flagged)]
        if tail and (not spikes or spikes[-1] != len(values) - 1):
            return None
        for position, first in enumerate(spikes):
            group = [i for i in spikes[position:] if i - first < self.window]
            if len(group) >= self.min_count:
                return self._match(series, group)
        return None

    def _match(self, series: Series, group: list[int]) -> Match:
        start, end = group[0], group[-1]
        peak = max(group, key=lambda i: series.values[i])
        steps = ", ".join(_step(series.steps[i]) for i in group[:6])
        observation = (
            f"{series.raw_name} spiked {len(group)}× (steps {steps}); peak "
            f"{_fmt(series.values[peak])} at step {_step(series.steps[peak])}"
        )
        evidence = Evidence(
            series.name,
            series.raw_name,
            (float(series.steps[start]), float(series.steps[end])),
            observation,
            self.min_value or None,
            [(float(series.steps[i]), float(series.values[i])) for i in group][
                :MAX_EVIDENCE_VALUES
            ],
        )
        return Match([evidence], float(series.values[peak]))


@dataclass
class Oscillation(Pattern):
    """Within `window` points, at least `min_swings` jumps larger than `swing_ratio` × the
    window's median level, alternating in direction (up, down, up, ...).

    A healthy noisy curve jumps by a fraction of its level; a single spike makes one up and one
    down swing. Both stay under the default of five alternating full-level swings.
    """

    signal: SignalRef
    swing_ratio: float = 1.0
    min_swings: int = 5
    window: int = 20
    min_abs_swing: float = 0.0
    #: For a positive signal, a jump must also multiply / divide it by at least this factor
    #: (1 = off): small losses wobble by their whole level without anything being wrong.
    min_fold: float = 1.0
    #: Skip signals that go negative: a signed sum near zero (SB3's `train/loss` = policy loss
    #: + vf_coef·value loss − ent_coef·entropy) has no level to swing against.
    nonnegative_only: bool = False

    def required_signals(self) -> list[SignalRef]:
        return [self.signal]

    def describe(self) -> str:
        fold = f" and ≥ {self.min_fold:g}-fold" if self.min_fold > 1 else ""
        signed = "; only for non-negative signals" if self.nonnegative_only else ""
        return (
            f"≥ {self.min_swings} alternating jumps of `{_name(self.signal)}` larger than "
            f"{self.swing_ratio:g}× its median level{fold} within {self.window} points{signed}"
        )

    def _swings(self, values: np.ndarray) -> int:
        level = float(np.median(np.abs(values)))
        diffs = np.diff(values)
        large = np.abs(diffs) > max(self.swing_ratio * level, self.min_abs_swing)
        if self.min_fold > 1:
            low = np.minimum(values[:-1], values[1:])
            high = np.maximum(values[:-1], values[1:])
            large &= high >= self.min_fold * np.maximum(low, 1e-12)
        big = diffs[large]
        if len(big) == 0:
            return 0
        # Count the longest alternating chain of big jumps.
        signs = np.sign(big)
        best = current = 1
        for previous, sign in zip(signs[:-1], signs[1:], strict=True):
            current = current + 1 if sign != previous else 1
            best = max(best, current)
        return best

    def evaluate(self, log: RunLog, tail: bool = False) -> Match | None:
        series = _series(log, self.signal)
        if series is None or len(series) < self.min_swings + 1:
            return None
        if self.nonnegative_only and (series.values < 0).any():
            return None
        hits = [
            w
            for w in _windows(len(series), self.window, tail)
            if self._swings(series.values[w[0] : w[1] + 1]) >= self.min_swings
        ]
        if not hits:
            return None
        start, end = _merge(hits)[0]
        window_values = series.values[start : end + 1]
        swings = self._swings(window_values)
        low, high = float(window_values.min()), float(window_values.max())
        observation = (
            f"{series.raw_name} swung {swings}× between {_fmt(low)} and {_fmt(high)} (median "
            f"{_fmt(float(np.median(window_values)))}) over steps {_step(series.steps[start])}–"
            f"{_step(series.steps[end])}"
        )
        evidence = Evidence(
            series.name,
            series.raw_name,
            (float(series.steps[start]), float(series.steps[end])),
            observation,
            None,
            _samples(series, start, end),
        )
        return Match([evidence], float(swings))


@dataclass
class DropFromPeak(Pattern):
    """`signal` falls at least `min_rel_drop` below its running peak (3-point trailing median,
    so one lucky or unlucky point does not count) for `min_consecutive` points."""

    signal: SignalRef
    min_rel_drop: float = 0.2
    min_abs_drop: float = 0.0
    min_consecutive: int = 3
    smooth: int = 3
    scale_floor: float = 0.05
    min_points: int = 8
    region: Region = "any"

    def required_signals(self) -> list[SignalRef]:
        return [self.signal]

    def describe(self) -> str:
        where = "" if self.region == "any" else f" in the {self.region} part of the run"
        return (
            f"`{_name(self.signal)}` stays ≥ {self.min_rel_drop:.0%} below its running peak for "
            f"≥ {self.min_consecutive} points{where}"
        )

    def evaluate(self, log: RunLog, tail: bool = False) -> Match | None:
        series = _series(log, self.signal)
        if series is None or len(series) < self.min_points:
            return None
        smoothed = _trailing_median(series.values, self.smooth)
        peaks = np.maximum.accumulate(smoothed)
        drops = peaks - smoothed
        relative = drops / np.maximum(np.abs(peaks), self.scale_floor)
        mask = (relative >= self.min_rel_drop) & (drops >= self.min_abs_drop)
        region_size = len(_region(series, self.region))
        if self.region == "late":
            mask[: len(series) - region_size] = False
        elif self.region == "early":
            mask[region_size:] = False
        runs = [r for r in _runs(mask) if r[1] - r[0] + 1 >= self.min_consecutive]
        if tail:
            runs = [r for r in runs if r[1] == len(series) - 1]
        if not runs:
            return None
        start, end = runs[0]
        peak_index = int(np.argmax(smoothed[: start + 1]))
        worst = int(start + np.argmax(relative[start : end + 1]))
        observation = (
            f"{series.raw_name} peaked at {_fmt(smoothed[peak_index])} (step "
            f"{_step(series.steps[peak_index])}) then fell to {_fmt(smoothed[worst])} (step "
            f"{_step(series.steps[worst])}, {-relative[worst]:.0%})"
        )
        evidence = Evidence(
            series.name,
            series.raw_name,
            (float(series.steps[peak_index]), float(series.steps[end])),
            observation,
            None,
            _samples(series, peak_index, end),
        )
        return Match([evidence], float(relative[worst]))


@dataclass
class Frequency(Pattern):
    """At least `min_fraction` of the last `window` points satisfy `signal op threshold`."""

    signal: SignalRef
    op: Comparison
    threshold: float
    min_fraction: float = 0.5
    window: int = 20
    min_points: int = 10

    def required_signals(self) -> list[SignalRef]:
        return [self.signal]

    def describe(self) -> str:
        return (
            f"≥ {self.min_fraction:.0%} of {self.window} consecutive points have "
            f"`{_name(self.signal)}` {self.op} {self.threshold:g}"
        )

    def evaluate(self, log: RunLog, tail: bool = False) -> Match | None:
        series = _series(log, self.signal)
        if series is None or len(series) < self.min_points:
            return None
        mask = _compare(series.values, self.op, self.threshold)
        hits = [
            w
            for w in _windows(len(series), self.window, tail)
            if mask[w[0] : w[1] + 1].mean() >= self.min_fraction
        ]
        if not hits:
            return None
        start, end = _merge(hits)[0]
        fraction = float(mask[start : end + 1].mean())
        observation = (
            f"{series.raw_name} {self.op} {self.threshold:g} in {fraction:.0%} of the points over "
            f"steps {_step(series.steps[start])}–{_step(series.steps[end])}"
        )
        evidence = Evidence(
            series.name,
            series.raw_name,
            (float(series.steps[start]), float(series.steps[end])),
            observation,
            self.threshold,
            _samples(series, start, end),
        )
        return Match([evidence], fraction)


def _aligned(a: Series, b: Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values of `a` and `b` on `a`'s steps inside their common range (b interpolated)."""
    inside = (a.steps >= b.steps[0]) & (a.steps <= b.steps[-1])
    steps = a.steps[inside]
    return steps, a.values[inside], np.interp(steps, b.steps, b.values)


@dataclass
class Gap(Pattern):
    """`high` − `low` > `min_gap` for `min_consecutive` consecutive points (on shared steps)."""

    high: SignalRef
    low: SignalRef
    min_gap: float
    min_consecutive: int = 3

    def required_signals(self) -> list[SignalRef]:
        return [self.high, self.low]

    def describe(self) -> str:
        return (
            f"`{_name(self.high)}` − `{_name(self.low)}` > {self.min_gap:g} for "
            f"≥ {self.min_consecutive} consecutive points"
        )

    def evaluate(self, log: RunLog, tail: bool = False) -> Match | None:
        high, low = _series(log, self.high), _series(log, self.low)
        if high is None or low is None or len(high) == 0 or len(low) == 0:
            return None
        steps, high_values, low_values = _aligned(high, low)
        if len(steps) == 0:
            return None
        gaps = high_values - low_values
        runs = [r for r in _runs(gaps > self.min_gap) if r[1] - r[0] + 1 >= self.min_consecutive]
        if tail:
            runs = [r for r in runs if r[1] == len(steps) - 1]
        if not runs:
            return None
        start, end = runs[0]
        worst = int(start + np.argmax(gaps[start : end + 1]))
        observation = (
            f"{high.raw_name} − {low.raw_name} > {self.min_gap:g} for {end - start + 1} "
            f"consecutive points (steps {_step(steps[start])}–{_step(steps[end])}); widest at step "
            f"{_step(steps[worst])}: {_fmt(high_values[worst])} vs {_fmt(low_values[worst])}"
        )
        window = (float(steps[start]), float(steps[end]))
        indices = range(start, end + 1)
        evidence = [
            Evidence(
                high.name,
                high.raw_name,
                window,
                observation,
                None,
                [(float(steps[i]), float(high_values[i])) for i in indices][:MAX_EVIDENCE_VALUES],
            ),
            Evidence(
                low.name,
                low.raw_name,
                window,
                f"{low.raw_name} over the same steps (reference for the gap)",
                None,
                [(float(steps[i]), float(low_values[i])) for i in indices][:MAX_EVIDENCE_VALUES],
            ),
        ]
        return Match(evidence, float(gaps[worst]))


@dataclass
class Concurrent(Pattern):
    """Within the same window, `first` and `second` both show their trend (e.g. reward up while
    exact match goes down). Windows follow `first`'s points; `second` is read over the same
    step range."""

    first: Trend
    second: Trend

    def required_signals(self) -> list[SignalRef]:
        return [self.first.signal, self.second.signal]

    def describe(self) -> str:
        return f"within one window: {self.first.describe()}; while {self.second.describe()}"

    def evaluate(self, log: RunLog, tail: bool = False) -> Match | None:
        first, second = _series(log, self.first.signal), _series(log, self.second.signal)
        if first is None or second is None:
            return None
        if len(first) < self.first.min_points or len(second) < self.second.min_points:
            return None
        for start, end in _windows(len(first), self.first.window, tail):
            if self.first.check(first.values[start : end + 1]) is None:
                continue
            inside = (second.steps >= first.steps[start]) & (second.steps <= first.steps[end])
            indices = np.flatnonzero(inside)
            if len(indices) == 0 or self.second.check(second.values[inside]) is None:
                continue
            first_stats = _trend_stats(first.values[start : end + 1])
            second_stats = _trend_stats(second.values[inside])
            return Match(
                [
                    self.first.evidence(first, start, end, first_stats),
                    self.second.evidence(second, int(indices[0]), int(indices[-1]), second_stats),
                ],
                abs(first_stats.change) + abs(second_stats.change),
            )
        return None


@dataclass
class NonFinite(Pattern):
    """A signal contains NaN or ±inf.

    `after_finite` (default) only counts signals that were finite first and then went NaN /
    inf: the run diverged. Otherwise only signals non-finite from their very first point:
    never computed (e.g. a KL with no reference model), not a divergence.
    """

    after_finite: bool = True

    def required_signals(self) -> list[SignalRef]:
        return []

    def describe(self) -> str:
        if self.after_finite:
            return "a logged signal turns NaN or ±inf after finite values"
        return "a logged signal is NaN or ±inf from its first point"

    def evaluate(self, log: RunLog, tail: bool = False) -> Match | None:
        evidence = []
        for series in log.signals.values():
            bad = ~np.isfinite(series.values)
            if not bad.any() or bool(bad[0]) == self.after_finite:
                continue
            if tail:
                bad[:-1] = False
            if not bad.any():
                continue
            indices = np.flatnonzero(bad)
            first = int(indices[0])
            observation = (
                f"{series.raw_name} is {series.values[first]} at step "
                f"{_step(series.steps[first])} ({len(indices)} non-finite of {len(series)} points)"
            )
            evidence.append(
                Evidence(
                    series.name,
                    series.raw_name,
                    (float(series.steps[first]), float(series.steps[indices[-1]])),
                    observation,
                    None,
                    _samples(series.finite(), 0, len(series.finite()) - 1)
                    if len(series.finite())
                    else [],
                )
            )
        return Match(evidence, float(len(evidence))) if evidence else None


@dataclass
class Constant(Pattern):
    """Over the whole run (≥ `min_points` points) `signal` never moves: its range stays within
    `atol` + `rtol` × |median|. Zero at every step is the common case (no gradient at all)."""

    signal: SignalRef
    min_points: int = 10
    atol: float = 1e-8
    rtol: float = 1e-6
    value: float | None = None

    def required_signals(self) -> list[SignalRef]:
        return [self.signal]

    def describe(self) -> str:
        what = "constant" if self.value is None else f"constantly {self.value:g}"
        return f"`{_name(self.signal)}` is {what} at every one of ≥ {self.min_points} points"

    def evaluate(self, log: RunLog, tail: bool = False) -> Match | None:
        series = _series(log, self.signal)
        if series is None or len(series) < self.min_points:
            return None
        values = series.values
        median = float(np.median(values))
        tolerance = self.atol + self.rtol * abs(median)
        if float(np.ptp(values)) > tolerance:
            return None
        if self.value is not None and abs(median - self.value) > tolerance:
            return None
        n = len(series)
        observation = (
            f"{series.raw_name} is {_fmt(median)} at all {n} points (steps "
            f"{_step(series.steps[0])}–{_step(series.steps[-1])})"
        )
        evidence = Evidence(
            series.name,
            series.raw_name,
            (float(series.steps[0]), float(series.steps[-1])),
            observation,
            None,
            _samples(series, 0, n - 1),
        )
        return Match([evidence])


@dataclass
class GainLost(Pattern):
    """`signal` rose well above where it started, then gave back at least `min_lost` of that
    gain and stayed there (`min_consecutive` smoothed points up to the end of the run).

    Smoothed with a `smooth`-point trailing median; the gain must beat `min_rel_gain` × |start|
    and `z` point-noise sigmas, so a flat noisy curve has no peak to lose.
    """

    signal: SignalRef
    min_lost: float = 0.5
    min_rel_gain: float = 0.1
    smooth: int = 10
    min_consecutive: int = 5
    z: float = 3.0
    min_points: int = 20

    def required_signals(self) -> list[SignalRef]:
        return [self.signal]

    def describe(self) -> str:
        return (
            f"`{_name(self.signal)}` (trailing median of {self.smooth}) rises ≥ "
            f"{self.min_rel_gain:.0%} and > {self.z:g}σ above its start, then loses ≥ "
            f"{self.min_lost:.0%} of that gain until the end of the run"
        )

    def evaluate(self, log: RunLog, tail: bool = False) -> Match | None:
        series = _series(log, self.signal)
        if series is None or len(series) < self.min_points:
            return None
        smoothed = _trailing_median(series.values, self.smooth)
        head = max(3, len(series) // 10)
        start = float(np.median(series.values[:head]))
        # The peak is judged only once the smoothing window is full and after the start level:
        # the first few episodes of a rolling mean are noise, not a peak to lose.
        first_peak = max(head, self.smooth - 1)
        if first_peak >= len(series) - self.min_consecutive:
            return None
        peak_index = first_peak + int(np.argmax(smoothed[first_peak:]))
        gain = float(smoothed[peak_index]) - start
        needed = max(self.min_rel_gain * abs(start), self.z * _noise_sigma(series.values), 1e-12)
        if gain < needed:
            return None
        lost = (smoothed[peak_index] - smoothed) / gain
        after_peak = lost[peak_index:] >= self.min_lost
        # The drop must hold until the last point: a dip the run recovered from is not a loss.
        tail_run = 0
        for flag in after_peak[::-1]:
            if not flag:
                break
            tail_run += 1
        if tail_run < self.min_consecutive:
            return None
        end = len(series) - 1
        observation = (
            f"{series.raw_name} rose from {_fmt(start)} to a peak of "
            f"{_fmt(smoothed[peak_index])} (step {_step(series.steps[peak_index])}), then fell to "
            f"{_fmt(smoothed[end])} by step {_step(series.steps[end])}: "
            f"{lost[end]:.0%} of the gain lost (smoothed over {self.smooth} points)"
        )
        evidence = Evidence(
            series.name,
            series.raw_name,
            (float(series.steps[peak_index]), float(series.steps[end])),
            observation,
            None,
            _samples(series, peak_index, end),
        )
        return Match([evidence], float(lost[end]))


@dataclass
class AllOf(Pattern):
    """All `required` patterns match. `gates` only count when their signals were logged (a
    condition that sharpens the rule where it can be checked); `supporting` patterns add their
    evidence when they match and never block."""

    required: Sequence[Pattern]
    gates: Sequence[Pattern] = field(default_factory=tuple)
    supporting: Sequence[Pattern] = field(default_factory=tuple)

    def required_signals(self) -> list[SignalRef]:
        return [ref for p in self.required for ref in p.required_signals()]

    def applicable(self, log: RunLog) -> bool:
        return all(p.applicable(log) for p in self.required)

    def describe(self) -> str:
        text = " AND ".join(f"({p.describe()})" for p in self.required)
        if self.gates:
            text += "; when logged, also " + " AND ".join(f"({g.describe()})" for g in self.gates)
        if self.supporting:
            text += "; supporting evidence: " + "; ".join(p.describe() for p in self.supporting)
        return text

    def evaluate(self, log: RunLog, tail: bool = False) -> Match | None:
        evidence: list[Evidence] = []
        strength = 0.0
        # Only the first required pattern must be fresh in tail mode; the others describe the
        # context (e.g. "reward flat") that may have held for a while already.
        for index, pattern in enumerate(self.required):
            match = pattern.evaluate(log, tail=tail and index == 0)
            if match is None:
                return None
            evidence += match.evidence
            strength += match.strength
        for gate in self.gates:
            if not gate.applicable(log):
                continue
            match = gate.evaluate(log)
            if match is None:
                return None
            evidence += match.evidence
        for pattern in self.supporting:
            if pattern.applicable(log) and (match := pattern.evaluate(log)) is not None:
                evidence += match.evidence
        return Match(evidence, strength)


@dataclass
class AnyOf(Pattern):
    """The first of `options` whose signals are present and that matches."""

    options: Sequence[Pattern]

    def required_signals(self) -> list[SignalRef]:
        return []

    def applicable(self, log: RunLog) -> bool:
        return any(p.applicable(log) for p in self.options)

    def describe(self) -> str:
        return " OR ".join(f"({p.describe()})" for p in self.options)

    def evaluate(self, log: RunLog, tail: bool = False) -> Match | None:
        for pattern in self.options:
            if pattern.applicable(log) and (match := pattern.evaluate(log, tail)) is not None:
                return match
        return None
