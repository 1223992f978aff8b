"""Max-min fair sharing against hand-computed cases. Each test draws its case and
states the expected rates and times beside the simulated ones."""
from __future__ import annotations

import pytest
import simpy

from simulator.engine.bandwidth import BandwidthModel


def run_flows(specs, capacities, until=None):
    """specs: [(start_time, size, [resource names], cap)] → finish time of each."""
    env = simpy.Environment()
    bw = BandwidthModel(env)
    res = {n: bw.resource(n, c) for n, c in capacities.items()}
    ends = {}

    def go(i, t, size, names, cap):
        yield env.timeout(t)
        flow = yield bw.transfer(size, [(res[n], 1.0) for n in names], cap=cap)
        ends[i] = env.now
        assert flow.moved == size

    for i, (t, size, names, cap) in enumerate(specs):
        env.process(go(i, t, size, names, cap))
    env.run(until=until)
    return ends, bw, env


def test_two_equal_flows_on_one_link_take_twice_as_long_as_one():
    """
        f1 ──┐
             ├── L (100 B/s) ──
        f2 ──┘
    One flow of 1000 B alone: 10 s. Two together: 50 B/s each, 20 s.
    """
    alone, _, _ = run_flows([(0, 1000, ["L"], None)], {"L": 100})
    both, _, _ = run_flows([(0, 1000, ["L"], None), (0, 1000, ["L"], None)], {"L": 100})
    print(f"expected 10 s alone, 20 s each together; got {alone[0]} and {both}")
    assert alone[0] == pytest.approx(10.0)
    assert both[0] == pytest.approx(20.0) and both[1] == pytest.approx(20.0)


def test_three_flows_over_two_links_with_different_bottlenecks():
    """
        f1: A            A = 10 B/s
        f2: A and B      B = 4 B/s
        f3: B
    B is the bottleneck of f2 and f3: 2 B/s each. f1 takes what A has left: 8 B/s.
    """
    env = simpy.Environment()
    bw = BandwidthModel(env)
    a, b = bw.resource("A", 10), bw.resource("B", 4)
    flows = [bw.transfer(1e6, uses) for uses in ([(a, 1)], [(a, 1), (b, 1)], [(b, 1)])]
    env.run(until=1)
    rates = sorted(f.rate for f in bw.active)
    got = {f.id: f.rate for f in bw.active}
    print(f"expected rates f1 8, f2 2, f3 2; got {got}")
    assert got == {1: pytest.approx(8.0), 2: pytest.approx(2.0), 3: pytest.approx(2.0)}
    assert a.load == pytest.approx(10) and b.load == pytest.approx(4)
    assert len(flows) == 3 and rates


def test_a_disk_capped_flow_leaves_the_spare_capacity_to_the_others():
    """
        f1: link (10) + source disk read (3)     → 3 (disk-bound)
        f2: link (10)                            → 7 (what the link has left)
    """
    env = simpy.Environment()
    bw = BandwidthModel(env)
    link, disk = bw.resource("link", 10), bw.resource("disk.read", 3)
    bw.transfer(1e6, [(link, 1), (disk, 1)])
    bw.transfer(1e6, [(link, 1)])
    env.run(until=1)
    got = {f.id: f.rate for f in bw.active}
    print(f"expected f1 3, f2 7; got {got}")
    assert got == {1: pytest.approx(3.0), 2: pytest.approx(7.0)}


def test_a_per_stream_cap_binds_alone():
    """f1 capped at 30 B/s (its fair share would be 50): f2 takes the other 70. f1's
    300 B take 10 s; f2 has moved 700 of 1000 by then and finishes alone at 100 B/s:
    13 s. A cap above the fair share (60 > 50) changes nothing."""
    ends, _, _ = run_flows([(0, 300, ["L"], 30.0), (0, 1000, ["L"], None)], {"L": 100})
    print(f"expected f1 10 s, f2 13 s; got {ends}")
    assert ends[0] == pytest.approx(10.0) and ends[1] == pytest.approx(13.0)
    ends, _, _ = run_flows([(0, 600, ["L"], 60.0), (0, 600, ["L"], None)], {"L": 100})
    assert ends == {0: pytest.approx(12.0), 1: pytest.approx(12.0)}


def test_a_flow_that_ends_speeds_up_the_others_at_that_instant():
    """
    f1 (200 B) and f2 (1000 B) share L (100 B/s): 50 each. f1 ends at 4 s; f2 has
    moved 200 and runs alone at 100 B/s: its last 800 B take 8 s → ends at 12 s.
    A third flow starting at 6 s on L halves f2 again: f2 has 600 left at 6 s; 50 B/s
    each until f3 (100 B) ends at 8 s; f2 then has 500 left → ends at 13 s.
    """
    ends, _, _ = run_flows([(0, 200, ["L"], None), (0, 1000, ["L"], None)], {"L": 100})
    print(f"expected f1 4 s, f2 12 s; got {ends}")
    assert ends == {0: pytest.approx(4.0), 1: pytest.approx(12.0)}
    ends, _, _ = run_flows([(0, 200, ["L"], None), (0, 1000, ["L"], None), (6, 100, ["L"], None)], {"L": 100})
    print(f"expected f3 8 s, f2 13 s; got {ends}")
    assert ends == {0: pytest.approx(4.0), 1: pytest.approx(13.0), 2: pytest.approx(8.0)}


def test_weights_make_a_compressed_copy_read_more_than_it_sends():
    """Compression 2: 1 B on the wire is 2 B read. Disk read 100 B/s, link 1000:
    the flow is disk-bound at 50 B/s on the wire."""
    env = simpy.Environment()
    bw = BandwidthModel(env)
    link, disk = bw.resource("link", 1000), bw.resource("disk", 100)
    bw.transfer(1e6, [(link, 1.0), (disk, 2.0)])
    env.run(until=1)
    (f,) = bw.active
    assert f.rate == pytest.approx(50.0) and disk.load == pytest.approx(100.0)


def test_only_the_connected_component_is_recomputed():
    env = simpy.Environment()
    bw = BandwidthModel(env)
    a, b = bw.resource("A", 10), bw.resource("B", 10)
    for _ in range(5):
        bw.transfer(1e6, [(a, 1)])
    before = bw.recomputed_flows
    bw.transfer(1e6, [(b, 1)])  # touches nothing on A
    env.run(until=1)
    assert bw.recomputed_flows - before == 1


def test_utilisation_and_latency():
    env = simpy.Environment()
    bw = BandwidthModel(env)
    link = bw.resource("L", 100)
    ev = bw.transfer(500, [(link, 1)], latency=2.0)
    env.run(ev)
    assert env.now == pytest.approx(7.0)  # 2 s latency then 5 s
    env.run(until=10)
    assert link.utilisation(10) == pytest.approx(0.5) and link.peak == pytest.approx(100)


def test_an_aborted_flow_frees_its_share_at_once():
    """f1 and f2 share L (100 B/s); f1 is aborted at 2 s (it moved 100 B): f2 (1000 B,
    100 moved) runs alone from then: 900 B more at 100 B/s → ends at 11 s."""
    env = simpy.Environment()
    bw = BandwidthModel(env)
    link = bw.resource("L", 100)
    first = bw.transfer(1000, [(link, 1)])
    second = bw.transfer(1000, [(link, 1)])
    ends = {}

    def stop():
        yield env.timeout(2)
        ends["moved"] = bw.abort(first)

    env.process(stop())
    second.callbacks.append(lambda ev: ends.setdefault("f2", env.now))
    env.run()
    assert ends == {"moved": pytest.approx(100.0), "f2": pytest.approx(11.0)}
    assert not first.triggered
