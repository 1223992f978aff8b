"""nova-api's state guards on the actions a user or an operator takes during a move
(``check_instance_state``): a hard reboot only from active, stopped or error with no
task in progress but a reboot; confirm and revert only from RESIZED with no task in
progress; each refusal a 409 that changes nothing (issue 13). reset-state has no guard
in Nova."""
from __future__ import annotations

import pytest

import simulator
from tests.conftest import events_of, tiny

#: tiny's vm1 reaches VERIFY_RESIZE on cmp2 at about 224 s
RESIZED_AT = 224


def with_reboot(at: float, **workload) -> dict:
    s = tiny(operator={"actions": [{"action": "hard_reboot", "instance": "vm1", "at": at}]})
    s["workload"][0].update(workload)
    return s


def test_a_hard_reboot_of_a_resized_instance_is_refused_and_the_revert_then_goes_through():
    """The defect: a reboot of the RESIZED vm1 at 300 s, then the user's revert at 301 s
    while task_state was rebooting_hard double-released a claim. Nova refuses the
    reboot (409, InstanceInvalidState): nothing changes, the revert proceeds."""
    result = simulator.run(with_reboot(300, revert_after=300 - RESIZED_AT + 1))
    (row,) = result.actions
    assert (row[1], row[5], row[6], row[7], row[8], row[9]) == ("hard_reboot", "resized", None, "resized", None, 409)
    op = [r for r in result.trace if r["event"] == "operator"]
    assert [(o["status"], o["error"]) for o in op] == [(409, "InstanceInvalidState")]
    assert not any(r["event"] == "rpc.cast" and r["name"] == "reboot_instance" for r in result.trace)
    assert result.request(1)["status"] == "reverted"
    assert result.summary["operator"]["actions"] == {"hard_reboot_refused": 1}
    # the claims as in the same revert without the reboot: the source's kept, the destination's released once
    assert result.summary["resources"] == simulator.run(tiny(workload=[
        {"op": "resize", "flavor": "medium", "instance": "vm1", "at": 10, "revert_after": 77}])).summary["resources"]
    assert result.summary["resources"] == {"claims": 2, "releases": 1}


@pytest.mark.parametrize("at, state", [(10.1, "resize_prep"), (30, "resize_migrating")])
def test_a_hard_reboot_mid_move_is_refused(at, state):
    result = simulator.run(with_reboot(at))
    (row,) = result.actions
    assert (row[6], row[9]) == (state, 409)
    assert result.request(1)["status"] == "resized"


def test_a_hard_reboot_of_an_active_instance_is_accepted():
    result = simulator.run(with_reboot(5))
    (row,) = result.actions
    assert (row[5], row[7], row[8], row[9]) == ("active", "active", "rebooting_hard", 202)
    assert result.summary["operator"]["actions"] == {"hard_reboot": 1}


def test_a_resize_while_a_reboot_is_in_progress_is_refused_with_409():
    """The reboot at 9.999 s is cast to cmp1 (1 ms); the user's resize at 10 s finds
    task_state rebooting_hard: 409, rejected."""
    s = with_reboot(9.9995)
    s["services"]["compute"]["service_time"] = 1.0
    result = simulator.run(s)
    row = result.request(1)
    assert (row["status"], row["http_status"], row["reason"]) == ("rejected", 409, "InstanceInvalidState")


def test_a_confirm_while_a_revert_is_in_progress_is_refused_with_409():
    """The user reverts 5 s after VERIFY_RESIZE; while the revert runs (vm_state still
    RESIZED, task_state resize_reverting) a confirm reaches nova-api: Nova's
    check_instance_state refuses it with 409 before any look at the migration (which
    would have said 400, MigrationNotFoundByStatus); the revert completes."""
    from models import states
    from models.build import Sinks, build
    from models.scenario import load_scenario
    from simulator.engine.environment import Environment
    from simulator.engine.random_streams import RandomStreams

    s = tiny()
    s["workload"][0]["revert_after"] = 5
    sinks = Sinks.in_memory()
    cloud = build(load_scenario(s), Environment(), RandomStreams(1), sinks)
    sent = []

    def confirm_once_reverting() -> None:
        inst = cloud.db.instances["vm1"]
        if inst.task_state == states.RESIZE_REVERTING and not sent:
            sent.append(cloud.env.now)
            cloud.api.http("confirm_resize", inst.request)

    cloud.run(after_step=confirm_once_reverting)
    answers = [(r["name"], r["status"], r["error"]) for r in sinks.trace.records if r["event"] == "http.response"]
    assert answers == [("resize", 202, None), ("revert_resize", 202, None),
                       ("confirm_resize", 409, "InstanceInvalidState")]
    assert sent and cloud.book.requests[0].status == "reverted"


def test_reset_state_is_always_accepted():
    s = tiny(operator={"actions": [{"action": "reset_state", "instance": "vm1", "at": 30, "state": "active"}]})
    result = simulator.run(s)
    (row,) = result.actions
    assert (row[6], row[7], row[8], row[9]) == ("resize_migrating", "active", None, 202)
