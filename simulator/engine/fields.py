"""Field types for input schemas: strict models, numbers with ranges, quantities with
units and distributions. Every number has an upper bound (``MAX_*``): a value past it
is refused with the bound named, never left to overflow or hang a run.

A bare number is in the unit its type names (``Gbps``, ``MiBps``, ``GiB``, ``MiB``;
times in seconds; rates per second); a string may carry its own unit (``"10 Gbit/s"``,
``"2 min"``, ``"2/h"``). A distribution is a number of seconds or a mapping checked by
``simulator.engine.distributions``.
"""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from simulator.engine.distributions import MAX_VALUE, check_distribution
from simulator.engine.units import in_unit

#: The largest numbers an input may write. Each is far beyond anything a run of a day
#: can use, and small enough that no sum, product or draw the simulator makes from
#: them overflows (10 million instances of the largest flavor still add up in int64).
MAX_SECONDS = MAX_VALUE        # a time: 1e9 s, about 31.7 years
MAX_COUNT = 10_000_000         # instances, requests, counts of anything
MAX_WORKERS = 1_000_000        # workers of one service
MAX_VCPUS = 1_000_000
MAX_MIB = 10 ** 9              # RAM or a size in MiB: about 954 TiB
MAX_GIB = 10 ** 9              # a disk in GiB: about 954 PiB
MAX_GBPS = 1e6                 # a link: 1 Pbit/s
MIN_GBPS = 1e-6                # a link: 1 kbit/s
MAX_MIBPS = 1e9
MIN_MIBPS = 1e-6
MAX_RATE = 1e6                 # events per second
MIN_RATE = 1 / MAX_SECONDS     # once in MAX_SECONDS
MAX_FACTOR = 1e6               # ratios, multipliers, slow-downs
MAX_SEED = 2 ** 63 - 1

PosInt = Annotated[int, Field(gt=0, le=MAX_COUNT)]
NonNegInt = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Workers = Annotated[int, Field(gt=0, le=MAX_WORKERS)]
Vcpus = Annotated[int, Field(gt=0, le=MAX_VCPUS)]
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
PosFloat = Annotated[float, Field(gt=0, le=MAX_FACTOR, allow_inf_nan=False)]
NonNegFloat = Annotated[float, Field(ge=0, le=MAX_FACTOR, allow_inf_nan=False)]
#: a weigher's multiplier: any sign
Multiplier = Annotated[float, Field(ge=-MAX_FACTOR, le=MAX_FACTOR, allow_inf_nan=False)]


def _unit(unit: str, integral: bool = False) -> BeforeValidator:
    return BeforeValidator(lambda v: in_unit(v, unit, integral))


def _at_least(minimum: float, unit: str) -> AfterValidator:
    """A positive value no smaller than ``minimum`` (smaller ones make times that
    overflow or runs that never end)."""
    def check(v: float) -> float:
        if v < minimum:
            raise ValueError(f"{v:g} {unit} is too small: at least {minimum:g} {unit}, this simulator's bound")
        return v
    return AfterValidator(check)


Seconds = Annotated[float, _unit("s"), Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)]
PosSeconds = Annotated[float, _unit("s"), Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)]
#: how often something recurs: at least a millisecond (a shorter one would make a run
#: of events that never ends)
Interval = Annotated[float, _unit("s"), Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False), _at_least(1e-3, "s")]
#: events per second, or a string such as "2/h" or "1 per day"
Rate = Annotated[float, _unit("per_s"), Field(gt=0, le=MAX_RATE, allow_inf_nan=False), _at_least(MIN_RATE, "/s")]
Gbps = Annotated[float, _unit("gbps"), Field(gt=0, le=MAX_GBPS, allow_inf_nan=False), _at_least(MIN_GBPS, "Gbit/s")]
MiBps = Annotated[float, _unit("mibps"), Field(gt=0, le=MAX_MIBPS, allow_inf_nan=False),
                  _at_least(MIN_MIBPS, "MiB/s")]
GiB = Annotated[float, _unit("gb"), Field(ge=0, le=MAX_GIB, allow_inf_nan=False)]
PosGiB = Annotated[float, _unit("gb"), Field(gt=0, le=MAX_GIB, allow_inf_nan=False)]
WholeGiB = Annotated[int, _unit("gb", True), Field(ge=0, le=MAX_GIB)]
PosWholeGiB = Annotated[int, _unit("gb", True), Field(gt=0, le=MAX_GIB)]
MiB = Annotated[float, _unit("mb"), Field(ge=0, le=MAX_MIB, allow_inf_nan=False)]
WholeMiB = Annotated[int, _unit("mb", True), Field(ge=0, le=MAX_MIB)]
PosWholeMiB = Annotated[int, _unit("mb", True), Field(gt=0, le=MAX_MIB)]


class Strict(BaseModel):
    """A schema model: unknown keys are errors, numbers are numbers (``"10"`` is not
    one, ``true`` is not 1)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=False)


def distribution(value: Any) -> Any:
    """A distribution of seconds, its quantities converted, or a ValueError saying
    what is wrong."""
    if isinstance(value, str):
        value = in_unit(value, "s")
    elif isinstance(value, dict):
        value = {k: (in_unit(v, "s") if isinstance(v, str) and k != "dist" else v) for k, v in value.items()}
    problem = check_distribution(value)
    if problem:
        raise ValueError(problem)
    return value
