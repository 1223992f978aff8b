"""Distributions of times, as a scenario writes them.

A bare number is a constant. Otherwise a mapping names the distribution with ``dist``
and its parameters, always in the units of the key (seconds for times):

- ``{dist: constant, value: V}``
- ``{dist: exponential, mean: M}``
- ``{dist: uniform, low: A, high: B}``
- ``{dist: normal, mean: M, sd: S}`` (negative draws are cut to 0)
- ``{dist: lognormal, mean: M, sd: S}`` (mean and sd of the variable itself)
- ``{dist: triangular, low: A, mode: C, high: B}``
- ``{dist: gamma, mean: M, sd: S}``
- ``{dist: choice, values: [..], weights: [..]}`` (an empirical distribution)

A ``Sampler`` is a plain callable taking a ``random.Random``; it knows its mean, which
the docs and queueing checks use.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Callable

DIST_PARAMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # name: (required parameters, optional parameters)
    "constant": (("value",), ()),
    "exponential": (("mean",), ()),
    "uniform": (("low", "high"), ()),
    "normal": (("mean", "sd"), ()),
    "lognormal": (("mean", "sd"), ()),
    "triangular": (("low", "mode", "high"), ()),
    "gamma": (("mean", "sd"), ()),
    "choice": (("values",), ("weights",)),
}


@dataclass(frozen=True)
class Sampler:
    """A distribution ready to draw from."""

    kind: str
    params: tuple[tuple[str, Any], ...]
    mean: float
    draw: Callable[[random.Random], float]

    def __call__(self, rng: random.Random) -> float:
        return self.draw(rng)

    @property
    def is_constant(self) -> bool:
        return self.kind == "constant"

    def describe(self) -> Any:
        """The resolved form written into ``summary.json``."""
        if self.kind == "constant":
            return dict(self.params)["value"]
        return {"dist": self.kind, **dict(self.params)}


#: the largest parameter or constant a distribution may have (seconds: about 31.7 years)
MAX_VALUE = 1e9
#: lognormal and gamma: the range of sd / mean whose draws stay finite and whose
#: parameters stay representable (gamma's shape is (mean / sd)^2)
CV_RANGE = (1e-6, 1e3)


def _too_large(v: Any) -> bool:
    try:
        return float(v) > MAX_VALUE
    except OverflowError:
        return True


def _bad_number(name: str, v: Any) -> str | None:
    """What is wrong with ``v`` as a parameter (a finite number from 0 to MAX_VALUE)."""
    if not _nonneg(v):
        return f"{name} must be a finite number >= 0".lstrip()
    if _too_large(v):
        return f"{name} {_show(v)} is more than {MAX_VALUE:g}, the largest this simulator takes".lstrip()
    return None


def check_distribution(spec: Any) -> str | None:
    """Return what is wrong with ``spec`` as a distribution, or None if it is valid."""
    if isinstance(spec, bool):
        return "expected a number of seconds or a distribution mapping such as {dist: exponential, mean: 2}"
    if isinstance(spec, (int, float)):
        return _bad_number("", spec)
    if not isinstance(spec, dict):
        return "expected a number of seconds or a distribution mapping such as {dist: exponential, mean: 2}"
    kind = spec.get("dist")
    if kind not in DIST_PARAMS:
        return f"unknown or missing 'dist' {kind!r} (expected one of: {', '.join(DIST_PARAMS)})"
    required, optional = DIST_PARAMS[kind]
    extra = set(spec) - {"dist", *required, *optional}
    if extra:
        return f"unknown parameter(s) {', '.join(sorted(map(str, extra)))} for dist {kind} (expected {', '.join(required + optional)})"
    missing = [p for p in required if p not in spec]
    if missing:
        return f"dist {kind} needs {', '.join(missing)}"
    if kind == "choice":
        values = spec["values"]
        if not isinstance(values, list) or not values or not all(_nonneg(v) for v in values):
            return "choice needs 'values': a non-empty list of numbers >= 0"
        if any(_too_large(v) for v in values):
            return f"choice 'values' must be at most {MAX_VALUE:g}, the largest this simulator takes"
        weights = spec.get("weights")
        if weights is not None and (not isinstance(weights, list) or len(weights) != len(values)
                                    or not all(_nonneg(w) and not _too_large(w) for w in weights)
                                    or sum(weights) <= 0):
            return (f"choice 'weights' must be as many numbers >= 0 (at most {MAX_VALUE:g}) as 'values', "
                    "not all zero")
        return None
    for p in required:
        problem = _bad_number(p, spec[p])
        if problem:
            return problem
    if kind in ("exponential", "lognormal", "gamma") and spec["mean"] <= 0:
        return f"{kind} needs mean > 0"
    if kind in ("lognormal", "gamma") and spec["sd"] > 0:
        low, high = CV_RANGE
        cv = spec["sd"] / spec["mean"]
        if not low <= cv <= high:
            return (f"{kind} with sd / mean = {cv:.3g}: it must be from {low:g} to {high:g} (or sd 0), "
                    "else its draws overflow or its parameters cannot be represented")
    if kind == "uniform" and spec["low"] > spec["high"]:
        return "uniform needs low <= high"
    if kind == "triangular" and not spec["low"] <= spec["mode"] <= spec["high"]:
        return "triangular needs low <= mode <= high"
    return None


def _nonneg(v: Any) -> bool:
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    return v >= 0 and (isinstance(v, int) or math.isfinite(v))


def _show(v: Any) -> str:
    """A number for a message, even one too large for a float."""
    try:
        return f"{float(v):g}"
    except OverflowError:
        return f"a {len(str(abs(v)))}-digit number"


def make_sampler(spec: Any) -> Sampler:
    """Build a sampler from a spec already accepted by ``check_distribution``."""
    problem = check_distribution(spec)
    if problem:
        raise ValueError(problem)
    if not isinstance(spec, dict):
        value = float(spec)
        return Sampler("constant", (("value", spec),), value, lambda rng: value)
    kind = spec["dist"]
    params = tuple((k, spec[k]) for k in DIST_PARAMS[kind][0] + DIST_PARAMS[kind][1] if k in spec)
    if kind == "constant":
        value = float(spec["value"])
        return Sampler(kind, params, value, lambda rng: value)
    if kind == "exponential":
        rate = 1.0 / spec["mean"]
        return Sampler(kind, params, float(spec["mean"]), lambda rng: rng.expovariate(rate))
    if kind == "uniform":
        low, high = float(spec["low"]), float(spec["high"])
        return Sampler(kind, params, (low + high) / 2, lambda rng: rng.uniform(low, high))
    if kind == "normal":
        mu, sd = float(spec["mean"]), float(spec["sd"])
        return Sampler(kind, params, mu, lambda rng: max(0.0, rng.gauss(mu, sd)))
    if kind == "lognormal":
        m, s = float(spec["mean"]), float(spec["sd"])
        sigma2 = math.log1p((s / m) ** 2)
        mu, sigma = math.log(m) - sigma2 / 2, math.sqrt(sigma2)
        return Sampler(kind, params, m, lambda rng: rng.lognormvariate(mu, sigma))
    if kind == "triangular":
        low, mode, high = float(spec["low"]), float(spec["mode"]), float(spec["high"])
        return Sampler(kind, params, (low + mode + high) / 3, lambda rng: rng.triangular(low, high, mode))
    if kind == "gamma":
        m, s = float(spec["mean"]), float(spec["sd"])
        if s == 0:
            return Sampler(kind, params, m, lambda rng: m)
        shape, scale = (m / s) ** 2, s * s / m
        return Sampler(kind, params, m, lambda rng: rng.gammavariate(shape, scale))
    # choice
    values = [float(v) for v in spec["values"]]
    weights = [float(w) for w in spec.get("weights") or [1.0] * len(values)]
    total = sum(weights)
    mean = sum(v * w for v, w in zip(values, weights)) / total
    cum = []
    acc = 0.0
    for w in weights:
        acc += w
        cum.append(acc)
    return Sampler(kind, params, mean, lambda rng: rng.choices(values, cum_weights=cum)[0])
