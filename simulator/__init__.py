"""The engine of nova-resize-sim: bus, workers, tracing, scenario loading, running.

``simulator.run(scenario, seed=None, out=None)`` runs a scenario (a YAML path or a
dict) and returns a ``Result`` with the summary, the per-request rows and the trace.
"""
from simulator.errors import ScenarioError
from simulator.results import Result
from simulator.runner import run

__all__ = ["run", "Result", "ScenarioError"]
