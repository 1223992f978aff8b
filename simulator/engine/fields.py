"""Field types for input schemas: strict models, numbers with ranges, quantities with
units and distributions.

A bare number is in the unit its type names (``Gbps``, ``MiBps``, ``GiB``, ``MiB``;
times in seconds; rates per second); a string may carry its own unit (``"10 Gbit/s"``,
``"2 min"``, ``"2/h"``). A distribution is a number of seconds or a mapping checked by
``simulator.engine.distributions``.
"""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from simulator.engine.distributions import check_distribution
from simulator.engine.units import in_unit

PosInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]


def _unit(unit: str, integral: bool = False) -> BeforeValidator:
    return BeforeValidator(lambda v: in_unit(v, unit, integral))


Seconds = Annotated[float, _unit("s"), Field(ge=0, allow_inf_nan=False)]
PosSeconds = Annotated[float, _unit("s"), Field(gt=0, allow_inf_nan=False)]
#: events per second, or a string such as "2/h" or "1 per day"
Rate = Annotated[float, _unit("per_s"), Field(gt=0, allow_inf_nan=False)]
Gbps = Annotated[float, _unit("gbps"), Field(gt=0, allow_inf_nan=False)]
MiBps = Annotated[float, _unit("mibps"), Field(gt=0, allow_inf_nan=False)]
GiB = Annotated[float, _unit("gb"), Field(ge=0, allow_inf_nan=False)]
WholeGiB = Annotated[int, _unit("gb", True), Field(ge=0)]
PosWholeGiB = Annotated[int, _unit("gb", True), Field(gt=0)]
MiB = Annotated[float, _unit("mb"), Field(ge=0, allow_inf_nan=False)]
WholeMiB = Annotated[int, _unit("mb", True), Field(ge=0)]
PosWholeMiB = Annotated[int, _unit("mb", True), Field(gt=0)]


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
