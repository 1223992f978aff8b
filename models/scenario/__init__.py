"""The scenario language: its schema, its cross-checks, and loading a scenario."""
from models.scenario.load import load_scenario
from models.scenario.specs import HostSpec, InstanceSpec, LoadedScenario

__all__ = ["load_scenario", "LoadedScenario", "HostSpec", "InstanceSpec"]
