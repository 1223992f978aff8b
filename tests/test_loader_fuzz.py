"""The scenario loader never crashes and never hangs, whatever the file.

Random YAML text (mappings, sequences, anchors and aliases, deep nesting, odd numbers
and units, random bytes) and random mutations of the shipped scenarios go through the
whole loader (``load_scenario``): the only exception allowed is a ``ScenarioError``,
said on one line, and each example is bounded in time. Then targeted tests of the
YAML loader's limits (``simulator.engine.yamlio``): nested-alias bombs, deep nesting,
file size, and anchors that are used legitimately still loading as before.

``FUZZ_EXAMPLES=3000`` runs the fuzz tests longer (300 examples by default).
"""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.scenario import load_scenario
from simulator.engine import yamlio
from simulator.engine.errors import ScenarioError
from simulator.engine.yamlio import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, load_yaml

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p for p in (ROOT / "scenarios").rglob("*.yaml"))
DEFAULT = ROOT / "scenarios" / "default.yaml"

#: a hard stop per example: hypothesis's deadline is only checked after an example ends
HANG_SECONDS = 20

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")),
    deadline=2000,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.large_base_example],
)


class Hang(Exception):
    """An example ran longer than ``HANG_SECONDS``."""


def _alarm(signum, frame):
    raise Hang(f"loading took more than {HANG_SECONDS} s")


def load_through_everything(path: Path) -> None:
    """``load_scenario`` on ``path``: fine if it loads, fine if it raises a one-line
    ``ScenarioError``; anything else fails the test."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
    try:
        load_scenario(path)
    except ScenarioError as exc:
        text = str(exc)
        assert text and "\n" not in text and "\r" not in text, repr(text)
        assert text.startswith(str(path)), text
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def write(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "fuzz.yaml"
    if isinstance(content, str):
        content = content.encode("utf-8", "surrogatepass")
    path.write_bytes(content)
    return path


# -- random scalars -------------------------------------------------------------------

_UNITS = ["", " ", "s", " s", " ms", " min", " h", " GB", " GiB", " Gb/s", " Gbps", " MiB/s", " MB",
          " TiB", " parsecs", " gb", " kib", "GiB", " %", " b", " B", " KB/s", " 1/s", " µs"]
_NUMBERS = ["0", "-0", "1", "-1", "10", "1e400", "-1e400", "1e-400", "1e308", "1.7976931348623157e308",
            "5e-324", "nan", "NaN", ".nan", "inf", "-inf", ".inf", "-.inf", "+.inf", "1_000", "0x7f",
            "0o17", "0b101", "1:30", "1:00:00", "0.5", "-0.5", ".5", "3.", "1e3", "2**64",
            "18446744073709551616", "9" * 400, "-" + "9" * 400, "1" + "0" * 400, "9" * 1001,
            "0x" + "f" * 300, "1" + ":59" * 300, "1e99999", "1/3", "½", "٣", "1,000", "10k"]
_WORDS = ["", "~", "null", "true", "false", "yes", "no", "on", "off", "poisson", "migrate", "resize",
          "m1.small", "cmp[01-04]", "vm[001-030]", "vm[1-999999999]", "vm[0-0]", "x[", "]", "2001-13-45",
          "2001-12-14", "2001-12-14t21:59:43.10-05:00", "!!int abc", "!!float x", "!!bool maybe",
          "!!timestamp x", "!!binary ===", "!!set {a: 1}", "!!omap [1]", "!!python/name:os.system",
          "!foo bar", "&", "*", "*nope", "<<", "<<: 1", "'", "\"", "'\\u0000'", "\"\\x00\"",
          "\"\\ud800\"", "\"a\\nb\"", "|", ">", "---", "...", "%YAML 1.1", "#", "@", "`", "\t",
          "a: b", "- a", "{", "}", "[[]]", "{a: }", "? a", "\ufeff", "\u2028", "x" * 200]

numberish = st.builds(lambda n, u: n + u, st.sampled_from(_NUMBERS), st.sampled_from(_UNITS))
random_number = st.one_of(
    st.integers().map(str),
    st.integers(min_value=-10**400, max_value=10**400).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda f: f"{f:e}"),
)
random_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
scalar_value = st.one_of(
    numberish,
    st.builds(lambda n, u: n + u, random_number, st.sampled_from(_UNITS)),
    st.sampled_from(_WORDS),
    random_text,
)


def _render_scalar(text: str, quoted: bool) -> str:
    """A scalar in YAML: quoted (always valid) or plain (may break the syntax: fuzz)."""
    return json.dumps(text) if quoted else text


scalar_yaml = st.builds(_render_scalar, scalar_value, st.booleans())

# -- random YAML documents with anchors and aliases -------------------------------------

#: a tree: ("s", text) a scalar, ("alias", k) an alias to the k-th anchor made so far,
#: ("seq", anchor?, items), ("map", anchor?, pairs)
leaf = st.one_of(scalar_yaml.map(lambda s: ("s", s)), st.integers(0, 50).map(lambda k: ("alias", k)))
tree = st.recursive(
    leaf,
    lambda kids: st.one_of(
        st.tuples(st.just("seq"), st.booleans(), st.lists(kids, max_size=6)),
        st.tuples(st.just("map"), st.booleans(),
                  st.lists(st.tuples(st.one_of(scalar_yaml, st.sampled_from(["<<", "name", "hosts"])),
                                     kids), max_size=6)),
    ),
    max_leaves=40,
)


def render(node, anchors: list[str]) -> str:
    """Flow-style YAML for a tree; anchors are named in order, aliases refer back."""
    kind = node[0]
    if kind == "s":
        return node[1]
    if kind == "alias":
        return f"*{anchors[node[1] % len(anchors)]}" if anchors else "null"
    mark = ""
    if node[1]:
        mark = f"&a{len(anchors)} "
    if kind == "seq":
        body = "[" + ", ".join(render(k, anchors) for k in node[2]) + "]"
    else:
        body = "{" + ", ".join(f"{k}: {render(v, anchors)}" for k, v in node[2]) + "}"
    if mark:
        anchors.append(mark[1:-1])
    return mark + body


_TOP_KEYS = ["name", "description", "seed", "nova", "services", "bus", "hosts", "flavors", "instances",
             "guest", "workload", "faults", "network", "links", "sweep", "base", "<<", "x"]


@st.composite
def random_document(draw) -> str:
    anchors: list[str] = []
    lines = []
    for key, value in draw(st.lists(st.tuples(st.sampled_from(_TOP_KEYS) | scalar_yaml, tree), max_size=8)):
        lines.append(f"{key}: {render(value, anchors)}")
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n---\n", "\n...\n", "\n---\nx: 1\n"]))


@st.composite
def deep_document(draw) -> str:
    depth = draw(st.integers(1, 400))
    style = draw(st.sampled_from(["seq", "map", "block", "mixed"]))
    if style == "seq":
        return "x: " + "[" * depth + "1" + "]" * depth
    if style == "map":
        return "x: " + "{a: " * depth + "1" + "}" * depth
    if style == "block":
        return "".join(" " * i + "a:\n" for i in range(depth)) + " " * depth + "b: 1\n"
    return "x: " + "[{a: " * depth + "1" + "}]" * depth


@st.composite
def alias_bomb(draw) -> str:
    """Nested aliases, each level ``width`` times the one below (billion laughs)."""
    levels, width = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    merge = draw(st.booleans())
    out = ["l0: &l0 [" + ", ".join(["x"] * width) + "]"]
    for i in range(1, levels + 1):
        refs = ", ".join([f"*l{i - 1}"] * width)
        out.append(f"l{i}: &l{i} {{<<: [{refs}]}}" if merge and i > 1 else f"l{i}: &l{i} [{refs}]")
    return "\n".join(out) + "\n"


raw_text = st.one_of(
    random_document(),
    deep_document(),
    alias_bomb(),
    random_text,
    st.lists(scalar_yaml, max_size=10).map("\n".join),
)


# -- mutations of the shipped scenarios -----------------------------------------------

def _scalar_spans(text: str) -> list[tuple[int, int]]:
    return [(t.start_mark.index, t.end_mark.index)
            for t in yaml.scan(text, Loader=yaml.SafeLoader) if isinstance(t, yaml.ScalarToken)]


_SHIPPED_TEXT = {p: p.read_text(encoding="utf-8") for p in SHIPPED}
_SPANS = {p: _scalar_spans(t) for p, t in _SHIPPED_TEXT.items()}
_SCENARIOS = [p for p in SHIPPED if "sweeps" not in p.parts]

mutation = st.one_of(
    st.tuples(st.just("replace"), st.integers(0, 10**6), scalar_yaml),
    st.tuples(st.just("replace"), st.integers(0, 10**6), tree.map(lambda t: render(t, []))),
    st.tuples(st.just("key"), st.integers(0, 10**6), st.tuples(st.sampled_from(_TOP_KEYS) | scalar_yaml,
                                                                 scalar_yaml)),
    st.tuples(st.just("drop"), st.integers(0, 10**6), st.none()),
    st.tuples(st.just("dup"), st.integers(0, 10**6), st.none()),
    st.tuples(st.just("bytes"), st.integers(0, 10**6), st.binary(min_size=1, max_size=8)),
)


def mutate(path: Path, ops: list) -> bytes:
    """The text of a shipped scenario with ``ops`` applied (scalar replacements first,
    from the end so that positions stay valid; then line edits; then raw bytes)."""
    text = _SHIPPED_TEXT[path]
    spans = _SPANS[path]
    replaced = sorted({spans[i % len(spans)]: v for op, i, v in ops if op == "replace"}.items(), reverse=True)
    for (start, end), value in replaced:
        text = text[:start] + value + text[end:]
    lines = text.split("\n")
    for op, i, v in ops:
        j = i % len(lines)
        if op == "key":
            indent = len(lines[j]) - len(lines[j].lstrip(" "))
            lines.insert(j + 1, " " * indent + f"{v[0]}: {v[1]}")
        elif op == "drop":
            del lines[j]
        elif op == "dup":
            lines.insert(j, lines[j])
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    for op, i, v in ops:
        if op == "bytes":
            j = i % (len(data) + 1)
            data = data[:j] + v + data[j:]
    return data


@pytest.fixture(scope="module", autouse=True)
def _warm():
    load_scenario(DEFAULT)  # imports and first-use caches, outside any example's deadline


@FUZZ
@given(text=raw_text)
def test_random_yaml_text_loads_or_is_one_scenario_error(tmp_path, text):
    load_through_everything(write(tmp_path, text))


@FUZZ
@given(content=st.binary(max_size=200))
def test_random_bytes_load_or_are_one_scenario_error(tmp_path, content):
    load_through_everything(write(tmp_path, content))


@FUZZ
@given(path=st.sampled_from(_SCENARIOS), ops=st.lists(mutation, min_size=1, max_size=3))
def test_mutated_scenarios_load_or_are_one_scenario_error(tmp_path, path, ops):
    load_through_everything(write(tmp_path, mutate(path, ops)))


# -- the YAML loader's limits ---------------------------------------------------------

def refused(path: Path) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_yaml(path)
    text = str(info.value)
    assert "\n" not in text and text.startswith(str(path)), text
    return info.value


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    out = ["a0: &a0 [" + ",".join(["x"] * width) + "]"]
    for i in range(1, levels):
        out.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(out) + "\n"


def test_billion_laughs_is_refused_quickly_naming_the_limit(tmp_path):
    text = billion_laughs()
    path = write(tmp_path, text * 1)
    started = time.perf_counter()
    err = refused(path)
    assert time.perf_counter() - started < 1
    assert f"{MAX_NODES:,}" in err.message and "aliases" in err.message and err.line is not None
    # and through the whole loader and the command line alike
    with pytest.raises(ScenarioError, match="aliases"):
        load_scenario(path)


def test_billion_laughs_with_merge_keys_is_refused(tmp_path):
    out = ["a0: &a0 {k0: 1, k1: 2, k2: 3}"]
    for i in range(1, 9):
        out.append(f"a{i}: &a{i} {{<<: [" + ", ".join([f"*a{i - 1}"] * 9) + "]}")
    started = time.perf_counter()
    err = refused(write(tmp_path, "\n".join(out)))
    assert time.perf_counter() - started < 1 and f"{MAX_NODES:,}" in err.message


def test_deep_aliases_count_towards_the_depth_limit(tmp_path):
    levels = ["a0: &a0 " + "[" * 60 + "1" + "]" * 60]
    levels.append("a1: &a1 " + "[" * 60 + "*a0" + "]" * 60)
    err = refused(write(tmp_path, "\n".join(levels)))
    assert f"{MAX_DEPTH} levels" in err.message and err.line == 2


@pytest.mark.parametrize("text", [
    "[" * 20000 + "]" * 20000,
    "x: " + "[" * 20000,
    "{a: " * 20000 + "1" + "}" * 20000,
    "".join(" " * i + "a:\n" for i in range(2000)),
    "- " * 20000 + "x\n",
])
def test_deep_nesting_is_one_line_error(tmp_path, text):
    started = time.perf_counter()
    err = refused(write(tmp_path, text))
    assert time.perf_counter() - started < 2
    assert f"more than {MAX_DEPTH} levels deep" in err.message and err.line is not None


def test_nesting_up_to_the_limit_loads(tmp_path):
    data, _ = load_yaml(write(tmp_path, "x: " + "[" * (MAX_DEPTH - 1) + "1" + "]" * (MAX_DEPTH - 1)))
    for _ in range(MAX_DEPTH - 1):
        data = data["x"] if isinstance(data, dict) else data[0]
    assert data == [1] or data == 1


def test_a_recursive_alias_is_refused(tmp_path):
    err = refused(write(tmp_path, "a: &a [1, *a]\n"))
    assert "recursive" in err.message and err.line == 1
    err = refused(write(tmp_path, "a: &a {b: {c: *a}}\n"))
    assert "recursive" in err.message


def test_a_file_over_the_size_limit_is_refused(tmp_path):
    path = write(tmp_path, "# " + "x" * MAX_FILE_BYTES + "\n")
    started = time.perf_counter()
    err = refused(path)
    assert time.perf_counter() - started < 1
    assert f"{MAX_FILE_BYTES:,} bytes" in err.message and "MiB" in err.message


def test_too_many_values_are_refused_while_composing(tmp_path):
    err = refused(write(tmp_path, "x: [" + ",".join(["1"] * (MAX_NODES + 1)) + "]\n"))
    assert f"{MAX_NODES:,}" in err.message


@pytest.mark.parametrize(("content", "expected", "line"), [
    (b"name: a\x00b\n", "a NUL byte at column 8", 1),
    (b"name: a\nx: \xff\xfe\n", "not UTF-8 text: byte 0xff at column 4", 2),
    ("name: a\n".encode("utf-16"), "UTF-16", 1),
    (b"name: a\n---\nname: b\n", "a second document", 2),
    (b"name: a\n...\nname: b\n", "a second document", 3),
    (b"x: 2001-13-45\n", "cannot read '2001-13-45' as 'timestamp' (month must be in 1..12)", 1),
    (b"x: !!int abc\n", "cannot read 'abc' as 'int'", 1),
    (b"x: !!bool maybe\n", "cannot read 'maybe' as 'bool'", 1),
    (b"x: !!timestamp x\n", "cannot read 'x' as 'timestamp'", 1),
    (b"x: " + b"1" * 5000 + b"\n", "an integer of 5,000 characters", 1),
    (b"x: 1" + b":59" * 2000 + b"\n", "an integer of 6,001 characters", 1),
    (b"x: !!python/name:os.system\n", "malformed YAML", 1),
])
def test_odd_files_are_one_clear_line(tmp_path, content, expected, line):
    err = refused(write(tmp_path, content))
    assert expected in str(err) and err.line == line, str(err)


def test_an_empty_file_is_said_to_lack_a_mapping(tmp_path):
    for text in ("", "# only a comment\n", "---\n"):
        with pytest.raises(ScenarioError, match="expected a mapping of scenario keys at the top level"):
            load_scenario(write(tmp_path, text))


def test_a_recursion_error_from_pyyaml_is_still_one_line(tmp_path, monkeypatch):
    def boom(self, parent, index):
        raise RecursionError("maximum recursion depth exceeded")
    monkeypatch.setattr(yamlio._UniqueKeyLoader, "compose_node", boom)
    err = refused(write(tmp_path, "x: [1]\n"))
    assert f"{MAX_DEPTH} levels" in err.message


# -- legitimate anchors and aliases -----------------------------------------------------

ANCHORED = """\
name: anchored
seed: 1
hosts:
  - &host {name: "cmp[01-04]", rack: r1, vcpus: 32, ram_mb: 131072, disk_gb: 2000, nic_gbps: 10}
  - {<<: *host, name: "cmp[05-08]", rack: r2}
flavors:
  m1.small: &small {vcpus: 1, ram_mb: 2048, root_gb: 20}
  m1.medium: {vcpus: 2, ram_mb: 4096, root_gb: 40}
  m1.large: {vcpus: 4, ram_mb: 8192, root_gb: 80}
instances:
  - {name: "vm[001-030]", flavor: m1.small, disk_used_gb: 8}
  - {name: "vm[031-040]", flavor: m1.medium, disk_used_gb: 15}
workload:
  - &resize {op: resize, flavor: m1.medium, instance: "vm[001-030]", count: 10,
     arrival: &arrival {process: poisson, rate: 0.05}, confirm_after: 120}
  - {op: migrate, count: 20, arrival: *arrival, confirm_after: 60}
"""

PLAIN = """\
name: anchored
seed: 1
hosts:
  - {name: "cmp[01-04]", rack: r1, vcpus: 32, ram_mb: 131072, disk_gb: 2000, nic_gbps: 10}
  - {vcpus: 32, ram_mb: 131072, disk_gb: 2000, nic_gbps: 10, name: "cmp[05-08]", rack: r2}
flavors:
  m1.small: {vcpus: 1, ram_mb: 2048, root_gb: 20}
  m1.medium: {vcpus: 2, ram_mb: 4096, root_gb: 40}
  m1.large: {vcpus: 4, ram_mb: 8192, root_gb: 80}
instances:
  - {name: "vm[001-030]", flavor: m1.small, disk_used_gb: 8}
  - {name: "vm[031-040]", flavor: m1.medium, disk_used_gb: 15}
workload:
  - {op: resize, flavor: m1.medium, instance: "vm[001-030]", count: 10,
     arrival: {process: poisson, rate: 0.05}, confirm_after: 120}
  - {op: migrate, count: 20, arrival: {process: poisson, rate: 0.05}, confirm_after: 60}
"""


def _reference_load(text: str):
    """What the loader gave before it was bounded: ``yaml.load`` for the data, the
    expanded walk of a second ``yaml.compose`` for the line map."""
    lines: dict[str, int] = {}

    def walk(node, path):
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                sub = f"{path}.{k.value}" if path else str(k.value)
                lines[sub] = k.start_mark.line + 1
                walk(v, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, f"{path}[{i}]")

    walk(yaml.compose(text, Loader=yaml.SafeLoader), "")
    return yaml.load(text, Loader=yaml.SafeLoader), lines


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_files_load_as_before(path):
    data, lines = load_yaml(path)
    ref_data, ref_lines = _reference_load(path.read_text(encoding="utf-8"))
    assert data == ref_data and list(lines.items()) == list(ref_lines.items())


def test_anchors_aliases_and_merge_keys_load_as_before(tmp_path):
    path = write(tmp_path, ANCHORED)
    data, lines = load_yaml(path)
    ref_data, ref_lines = _reference_load(ANCHORED)
    assert data == ref_data and list(lines.items()) == list(ref_lines.items())
    # aliased values are mapped at every path they appear at, as before
    assert lines["workload[1].arrival.rate"] == 15 and lines["hosts[1].<<.rack"] == 4
    assert lines["flavors.m1.small.vcpus"] == 7


def test_anchored_scenario_validates_like_its_plain_twin(tmp_path):
    anchored = load_scenario(write(tmp_path, ANCHORED))
    plain_path = tmp_path / "anchored.yaml"
    plain_path.write_text(PLAIN)
    plain = load_scenario(plain_path)
    assert anchored.model == plain.model
    assert anchored.hosts == plain.hosts and anchored.instances == plain.instances


def test_a_large_aliased_file_maps_each_aliased_node_once(tmp_path):
    # above the expanded line-map bound, an aliased value is mapped at its first path only
    block = "[" + ",".join(["1"] * 999) + "]"
    text = f"a: &a {block}\nb: [" + ", ".join(["*a"] * 150) + "]\n"
    data, lines = load_yaml(write(tmp_path, text))
    assert len(data["b"]) == 150 and data["b"][149] is data["a"]
    # (an alias's path points at the line of the value it names, as it always has)
    assert lines["a[998]"] == 1 and lines["b"] == 2 and lines["b[0]"] == 1 and "b[0][0]" not in lines
