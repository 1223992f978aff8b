"""nova-resize-sim: the engine (``simulator.engine``) and the commands that put Nova's
models to work (``simulator.commands``).

``simulator.run(scenario, seed=None, out=None)`` runs a scenario (a YAML path or a
dict) and returns a ``Result`` with the summary, the per-request rows and the trace;
bad input raises ``ScenarioError``. ``run`` and ``Result`` are imported when first
used, so importing the engine alone does not load the models.
"""
from typing import Any

from simulator.engine.errors import ScenarioError

__all__ = ["run", "Result", "ScenarioError"]


def __getattr__(name: str) -> Any:
    if name == "run":
        from simulator.commands.runner import run
        return run
    if name == "Result":
        from simulator.commands.results import Result
        return Result
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")
