"""Statistics: percentiles and summaries of a run's values, and of replications
(mean, standard deviation, Student's t confidence interval). Quantiles of Student's t
come from a table (two-sided 95 %) for small samples and a Cornish-Fisher expansion
beyond it, so no statistics library is needed.
"""
from __future__ import annotations

import math
from statistics import NormalDist, fmean, stdev
from typing import Any

# t_{0.975, df} for df = 1..30
_T975 = [12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004,
         2.262157, 2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905,
         2.109816, 2.100922, 2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899,
         2.059539, 2.055529, 2.051831, 2.048407, 2.045230, 2.042272]


def t_quantile_975(df: int) -> float:
    """The 97.5 % quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        return math.nan
    if df <= len(_T975):
        return _T975[df - 1]
    z = NormalDist().inv_cdf(0.975)
    g1 = (z ** 3 + z) / 4
    g2 = (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96
    g3 = (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384
    return z + g1 / df + g2 / df ** 2 + g3 / df ** 3


def summarise(values: list[float]) -> dict[str, float | int | None]:
    """n, mean, sd and the 95 % confidence interval of the mean (Student's t)."""
    xs = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    n = len(xs)
    if n == 0:
        return {"n": 0, "mean": None, "sd": None, "ci95_low": None, "ci95_high": None}
    mean = fmean(xs)
    if n == 1:
        return {"n": 1, "mean": mean, "sd": None, "ci95_low": None, "ci95_high": None}
    sd = stdev(xs)
    half = t_quantile_975(n - 1) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "ci95_low": mean - half, "ci95_high": mean + half}


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default) of already sorted values."""
    if not sorted_values:
        return None
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def stats(values: list[float]) -> dict[str, Any]:
    """count, mean, p50, p90, p99, max of a list of numbers (None when empty)."""
    v = sorted(values)
    n = len(v)
    return {"count": n,
            "mean": _r(sum(v) / n) if n else None,
            "p50": _r(percentile(v, 50)), "p90": _r(percentile(v, 90)),
            "p99": _r(percentile(v, 99)), "max": _r(v[-1]) if n else None}


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def utilisation_bins(series: list[tuple[float, float]] | None, now: float, bins: int) -> list[float]:
    """The mean utilisation of a resource in each of ``bins`` equal slices of the run,
    from its step series of (time, utilisation) changes."""
    if not series or now <= 0:
        return [0.0] * bins
    width = now / bins
    out = [0.0] * bins
    points = list(series) + [(now, series[-1][1])]
    level, t0 = 0.0, 0.0
    for t, u in points:
        t = min(t, now)
        a = t0
        k = min(int(a / width), bins - 1)
        while a < t:
            end = (k + 1) * width if k < bins - 1 else now
            if end <= a:
                k += 1
                continue
            b = min(t, end)
            out[k] += level * (b - a)
            a = b
        level, t0 = u, t
    return [round(x / width, 6) for x in out]
