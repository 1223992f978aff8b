"""The structure holds: the engine knows nothing of Nova, each package imports only
the layers below it, no import circle anywhere, functions and classes stay small,
and a service handles only the messages it declares.

Imports are read from the source (every ``import``, function-level and
``TYPE_CHECKING`` ones included), so a circle hidden in a function body counts.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("simulator", "models", "plots")
#: what the engine may import besides the standard library and itself
ENGINE_THIRD_PARTY = {"simpy", "numpy", "networkx", "yaml", "pydantic"}
#: the layers, top to bottom: a module may import its own layer and those below it
LAYERS = {
    "simulator.commands": {"simulator.commands", "plots", "models", "simulator.engine"},
    "plots": {"plots", "models", "simulator.engine"},
    "models": {"models", "simulator.engine"},
    "simulator.engine": {"simulator.engine"},
}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every module ``path`` imports (resolved to a module of ours where it is one;
    ``from a import b`` names ``a.b`` when that is a module)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            if mod == "__future__":
                continue
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in modules)
    return out


def layer_of(module: str) -> str | None:
    for layer in LAYERS:
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


def test_the_engine_imports_nothing_of_nova():
    """Every import in simulator/engine (function-level too) is the standard library,
    simpy, numpy, networkx, pyyaml, pydantic or the engine itself."""
    modules = all_modules()
    bad = []
    for name, path in modules.items():
        if layer_of(name) != "simulator.engine":
            continue
        for imp in imports_of(path, modules):
            top = imp.split(".")[0]
            if imp == "simulator.engine" or imp.startswith("simulator.engine."):
                continue
            if top in sys.stdlib_module_names or top in ENGINE_THIRD_PARTY:
                continue
            bad.append(f"{name} imports {imp}")
    assert not bad, "\n".join(bad)


def test_each_layer_imports_only_the_layers_below_it():
    """commands → plots → models → engine; plots import neither the commands nor the
    runner; only the commands import both models and plots."""
    modules = all_modules()
    bad = []
    for name, path in modules.items():
        layer = layer_of(name)
        if layer is None:  # the package roots: simulator/__init__ is the public API
            continue
        for imp in imports_of(path, modules):
            target = layer_of(imp) if imp.split(".")[0] in PACKAGES else None
            if imp in ("simulator", "models", "plots"):
                target = imp
            if target is not None and target not in LAYERS[layer]:
                bad.append(f"{name} ({layer}) imports {imp}")
    assert not bad, "\n".join(bad)


def test_no_import_circle():
    """The graph of our modules' imports, function-level ones included, has no cycle."""
    modules = all_modules()
    graph = {name: {i for i in imports_of(path, modules) if i in modules and i != name}
             for name, path in modules.items()}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "\n".join(" → ".join(c) for c in cycles)


def test_importing_the_engine_loads_no_model():
    """At run time too: importing every engine module (and the package root for the
    error type) loads nothing of models, plots or the commands."""
    engine = sorted(n for n in all_modules() if layer_of(n) == "simulator.engine")
    code = ("import sys\n" + "".join(f"import {m}\n" for m in engine)
            + "from simulator import ScenarioError\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('models', 'plots')"
            " or m.startswith('simulator.commands'))\n"
            "print(' '.join(bad))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def _too_big(roots: tuple[str, ...]) -> list[str]:
    out = []
    for root in roots:
        for path in sorted((ROOT / root).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                doc = ast.get_docstring(node) if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else None
                if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > 60:
                    if "long because" not in (doc or ""):
                        out.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: "
                                   f"{node.end_lineno - node.lineno + 1} lines")
                if isinstance(node, ast.ClassDef):
                    methods = sum(isinstance(b, (ast.FunctionDef, ast.AsyncFunctionDef)) for b in node.body)
                    if methods > 15 and "methods because" not in (doc or ""):
                        out.append(f"{path.relative_to(ROOT)}:{node.lineno} class {node.name}: {methods} methods")
    return out


def test_functions_and_classes_stay_small():
    """In models/ and the engine: no function over 60 lines, no class over 15
    methods, unless its docstring says why ("long because", "methods because")."""
    assert not _too_big(("models", "simulator/engine")), "\n".join(_too_big(("models", "simulator/engine")))


def test_a_service_handles_only_the_messages_it_declares():
    """Sending a method no handler declares is a wiring error at the sender, not a
    getattr on the service."""
    from models.build import Sinks, build
    from models.catalog import SERVICES
    from models.scenario import load_scenario
    from simulator.engine.environment import Environment
    from simulator.engine.random_streams import RandomStreams
    from tests.conftest import tiny

    assert set(SERVICES["compute"].rpc_handlers) == {
        "prep_resize", "resize_instance", "finish_resize", "confirm_resize", "revert_resize",
        "finish_revert_resize", "reboot_instance"}
    assert set(SERVICES["compute"].periodic_tasks) == {"_poll_unconfirmed_resizes"}
    cloud = build(load_scenario(tiny()), Environment(), RandomStreams(1), Sinks.in_memory())
    req = cloud.book  # any context will do: the send is refused before it is used
    for topic, method in (("compute.cmp1", "init_host"), ("compute.cmp1", "_copy_failed"),
                          ("conductor", "select_destinations"), ("scheduler", "busy")):
        with pytest.raises(LookupError, match=f"no handler '{method}'"):
            cloud.bus.cast(("test", None), topic, method, {}, req)
    with pytest.raises(LookupError, match="no operation 'prep_resize'"):
        cloud.api.http("prep_resize", req)
