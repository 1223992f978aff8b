"""Load and validate a scenario: YAML (or a dict) in, a checked ``LoadedScenario`` out.

Validation happens in one pass before anything runs: the schema (types, ranges,
unknown keys), then the cross-references a schema cannot see (``models.scenario.checks``:
flavor and host names, name ranges, duplicates, disks larger than their flavor). The
first problem raises a ``ScenarioError`` naming the file, the key path and what is
expected.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from models.scenario.checks import cross_check
from models.scenario.schema import Periodic, Poisson, Scenario
from models.scenario.specs import LoadedScenario
from simulator.engine.validation import Checker, read_input, validate


#: the tags of the arrival processes' union (pydantic puts them in error paths)
_TAGS = frozenset(m.model_fields["process"].annotation.__args__[0] for m in (Poisson, Periodic))


def load_scenario(source: str | Path | dict[str, Any]) -> LoadedScenario:
    """Validate a scenario given as a YAML path or as a dict (the Python API)."""
    data, lines, name = read_input(source, "scenario keys")
    checker = Checker(name, lines)
    if "name" not in data and not isinstance(source, dict):
        data["name"] = Path(name).stem
    model = validate(Scenario, data, checker, _TAGS)
    return cross_check(LoadedScenario(model=model, source=name, lines=lines), checker)
