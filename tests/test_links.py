"""``network.links`` takes no mistakes silently (issue 13): a link given twice is
refused (it used to replace the first), and a link end must be a host, a rack, core or
a switch listed in ``network.switches`` (a misspelt end used to become a new switch)."""
from __future__ import annotations

import pytest

import simulator
from simulator.engine.errors import ScenarioError
from tests.conftest import tiny


def links(*pairs, switches=("sw",)):
    net = {"links": [{"a": a, "b": b, "gbps": g} for a, b, g in pairs]}
    if switches is not None:
        net["switches"] = list(switches)
    return tiny(network=net)


def error_of(s) -> str:
    with pytest.raises(ScenarioError) as exc:
        simulator.run(s)
    return str(exc.value)


def test_declared_switches_and_hosts_route_a_copy():
    row = simulator.run(links(("cmp1", "sw", 1), ("sw", "cmp2", 10))).request(1)
    assert row["status"] == "resized"


@pytest.mark.parametrize("second", [("cmp1", "sw", 5), ("sw", "cmp1", 5)])
def test_a_link_given_twice_is_refused_naming_the_first(second):
    msg = error_of(links(("cmp1", "sw", 1), ("sw", "cmp2", 10), second))
    assert "network.links[2]: link" in msg and "is given twice (first as network.links[0])" in msg


def test_a_misspelt_end_is_refused_with_the_closest_name():
    msg = error_of(links(("cmp1", "sw", 1), ("sw", "cmp02", 10)))
    assert "network.links[1].b: unknown link end 'cmp02' (did you mean 'cmp2'?)" in msg
    assert "network.switches" in msg


def test_a_switch_must_be_declared():
    msg = error_of(links(("cmp1", "sw", 1), ("sw", "cmp2", 10), switches=None))
    assert "network.links[0].b: unknown link end 'sw'" in msg


def test_racks_and_core_are_switches_already():
    s = links(("cmp1", "r1", 1), ("r1", "core", 10), ("core", "cmp2", 10), switches=None)
    s["hosts"][0]["rack"] = "r1"
    assert simulator.run(s).request(1)["status"] == "resized"


@pytest.mark.parametrize("switches, expected", [
    (["sw", "cmp1"], "network.switches[1]: 'cmp1' is a host"),
    (["sw", "sw"], "network.switches[1]: switch 'sw' is declared already"),
    (["sw", "core"], "network.switches[1]: switch 'core' is declared already"),
    (["sw", "spare"], "network.switches[1]: switch 'spare' is on no link"),
])
def test_the_switch_list_is_checked(switches, expected):
    assert expected in error_of(links(("cmp1", "sw", 1), ("sw", "cmp2", 10), switches=switches))


def test_a_link_to_itself_and_switches_without_links_are_refused():
    assert "a link from 'sw' to itself" in error_of(links(("cmp1", "sw", 1), ("sw", "sw", 1), ("sw", "cmp2", 1)))
    s = tiny(network={"switches": ["sw"]})
    assert "'switches' names the switches of 'links'" in error_of(s)
