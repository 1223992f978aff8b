"""docs/validation.md puts published figures next to simulated ones; its table is
computed by docs/make_validation.py and must match what the model gives today, and the
rows the document says agree must stay in agreement."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _module():
    spec = importlib.util.spec_from_file_location("make_validation", ROOT / "docs" / "make_validation.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_validation", module)  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def validation():
    return _module()


def test_the_validation_document_matches_the_model(validation):
    doc = (ROOT / "docs" / "validation.md").read_text(encoding="utf-8")
    assert doc == validation.render(), "docs/validation.md is stale: run python docs/make_validation.py"


def test_every_row_has_its_scenario(validation):
    for row in validation.ROWS:
        assert (validation.SCENARIOS / row.scenario).resolve().is_file(), row.scenario
    named = {(validation.SCENARIOS / r.scenario).resolve().name for r in validation.ROWS}
    assert {p.name for p in validation.SCENARIOS.glob("*.yaml")} <= named


@pytest.mark.parametrize("figure, low, high", [
    ("scp, AES, one core", 490, 550),
    ("scp `-C`, any cipher", 35, 35),
    ("guest ignoring ACPI", 60, 60),
    ("one resize, by hand", 598.463, 598.463),
    ("qcow2 → raw, 10 GiB virtual", 19, 21),
])
def test_the_rows_that_agree_still_agree(validation, figure, low, high):
    [row] = [r for r in validation.ROWS if r.figure == figure]
    assert low - 1e-3 <= validation.measure(row) <= high + 1e-3


def test_rallys_polls_are_applied_to_the_simulated_times(validation):
    """Polls at return + 2 s + k × 4 s: a VERIFY_RESIZE 6.2 s after the POST (returned
    at 0.05 s) is seen at 10.05 s; exactly on a poll, at that poll."""
    assert validation._first_poll(0.05, 2.0, 4.0, 6.2) == pytest.approx(10.05)
    assert validation._first_poll(0.05, 2.0, 4.0, 6.05) == pytest.approx(6.05)
    assert validation._first_poll(0.05, 2.0, 4.0, 1.0) == pytest.approx(2.05)
