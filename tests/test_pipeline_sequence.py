"""One resize and one cold migration, hop by hop, against the reference (sections 2–4):
the steps, which hops are calls and which casts, the state changes and the
notifications, in Nova's order."""
from __future__ import annotations

import simulator
from models.states import REQUEST_STATUSES
from tests.conftest import events_of, tiny

# (service, host, event, name) of every hop of a resize up to VERIFY_RESIZE and its
# confirm, with the source cmp1 and the destination cmp2.
RESIZE_HOPS = [
    ("client", None, "http.request", "resize"),
    ("nova-api", "controller", "step.start", "resize"),
    ("nova-api", "controller", "rpc.call", "migrate_server"),
    ("nova-conductor", "controller", "step.start", "migrate_server"),
    ("nova-conductor", "controller", "rpc.call", "select_destinations"),
    ("nova-scheduler", "controller", "step.start", "select_destinations"),
    ("nova-scheduler", "controller", "rpc.reply", "select_destinations"),
    ("nova-scheduler", "controller", "step.end", "select_destinations"),
    ("nova-conductor", "controller", "rpc.cast", "prep_resize"),
    ("nova-conductor", "controller", "rpc.reply", "migrate_server"),
    ("nova-conductor", "controller", "step.end", "migrate_server"),
    ("nova-compute", "cmp2", "step.start", "prep_resize"),
    ("nova-api", "controller", "http.response", "resize"),
    ("nova-api", "controller", "step.end", "resize"),
    ("nova-compute", "cmp2", "step.end", "resize_claim"),
    ("nova-compute", "cmp2", "rpc.cast", "resize_instance"),
    ("nova-compute", "cmp2", "step.end", "prep_resize"),
    ("nova-compute", "cmp1", "step.start", "resize_instance"),
    ("nova-compute", "cmp1", "step.start", "power_off"),
    ("nova-compute", "cmp1", "step.end", "power_off"),
    ("nova-compute", "cmp1", "step.start", "copy_disks"),
    ("nova-compute", "cmp1", "step.end", "copy_disks"),
    ("nova-compute", "cmp1", "rpc.cast", "finish_resize"),
    ("nova-compute", "cmp1", "step.end", "resize_instance"),
    ("nova-compute", "cmp2", "step.start", "finish_resize"),
    ("nova-compute", "cmp2", "step.start", "finish_migration"),
    ("nova-compute", "cmp2", "step.end", "finish_migration"),
    ("nova-compute", "cmp2", "step.end", "finish_resize"),
    ("client", None, "http.request", "confirm_resize"),
    ("nova-api", "controller", "step.start", "confirm_resize"),
    ("nova-api", "controller", "rpc.cast", "confirm_resize"),
    ("nova-api", "controller", "http.response", "confirm_resize"),
    ("nova-api", "controller", "step.end", "confirm_resize"),
    ("nova-compute", "cmp1", "step.start", "confirm_resize"),
    ("nova-compute", "cmp1", "step.end", "confirm_resize"),
]

# (vm_state, task_state, migration status) after each save, reference section 3
RESIZE_STATES = [
    ("active", "resize_prep", None),                    # API accepted
    ("active", "resize_prep", "pre-migrating"),         # claim on dest
    ("active", "resize_prep", "migrating"),             # resize_instance starts
    ("active", "resize_migrating", "migrating"),
    ("active", "resize_migrating", "post-migrating"),   # disks copied
    ("active", "resize_migrated", "post-migrating"),
    ("active", "resize_finish", "post-migrating"),      # finish_resize starts
    ("active", "resize_finish", "finished"),
    ("resized", None, "finished"),                      # VERIFY_RESIZE
    ("resized", None, "confirming"),                    # confirm requested
    ("resized", None, "confirmed"),
    ("active", None, "confirmed"),                      # confirmed
]

NOTIFICATIONS = [
    "scheduler.select_destinations.start", "scheduler.select_destinations.end",
    "instance.exists", "instance.resize_prep.start", "instance.resize_prep.end",
    "instance.resize.start", "instance.resize.end",
    "instance.resize_finish.start", "instance.resize_finish.end",
    "instance.resize_confirm.start", "instance.resize_confirm.end",
]


def _run(**overrides):
    return simulator.run(tiny(**overrides))


def test_resize_hops_states_and_notifications_follow_nova():
    scenario = tiny()
    scenario["workload"][0]["confirm_after"] = 100
    result = simulator.run(scenario)
    hops = [(r["service"], r["host"], r["event"], r["name"])
            for r in events_of(result.trace, 1, "http.request", "http.response", "rpc.call",
                               "rpc.cast", "rpc.reply", "step.start", "step.end")]
    assert hops == RESIZE_HOPS
    states = [(r["vm_state"], r["task_state"], r["migration_status"])
              for r in events_of(result.trace, 1, "state")]
    assert states == RESIZE_STATES
    notes = [r["name"] for r in events_of(result.trace, 1, "notification")]
    assert notes == NOTIFICATIONS
    row = result.request(1)
    assert (row["status"], row["source"], row["dest"], row["http_status"], row["attempts"]) == \
        ("confirmed", "cmp1", "cmp2", 202, 1)


def test_state_changes_happen_where_nova_makes_them():
    scenario = tiny()
    scenario["workload"][0]["confirm_after"] = 100
    result = simulator.run(scenario)
    where = [(r["service"], r["host"]) for r in events_of(result.trace, 1, "state")]
    api, src, dst = ("nova-api", "controller"), ("nova-compute", "cmp1"), ("nova-compute", "cmp2")
    assert where == [api, dst, src, src, src, src, dst, dst, dst, api, src, src]
    hosts = [r["instance_host"] for r in events_of(result.trace, 1, "state")]
    # instance.host becomes the destination when the disks are copied (resize_migrated)
    assert hosts == ["cmp1"] * 5 + ["cmp2"] * 7


def test_cold_migration_keeps_the_flavor_and_takes_the_same_hops():
    scenario = tiny(workload=[{"op": "migrate", "instance": "vm1", "at": 10, "confirm_after": 100}])
    result = simulator.run(scenario)
    hops = [(r["service"], r["host"], r["event"], r["name"])
            for r in events_of(result.trace, 1, "http.request", "http.response", "rpc.call",
                               "rpc.cast", "rpc.reply", "step.start", "step.end")]
    assert hops == RESIZE_HOPS
    row = result.request(1)
    assert (row["op"], row["flavor_old"], row["flavor_new"], row["status"]) == \
        ("migrate", "small", "small", "confirmed")
    assert [r["name"] for r in events_of(result.trace, 1, "notification")] == NOTIFICATIONS


def test_calls_and_casts_are_the_kinds_nova_uses():
    result = _run()
    kinds = {r["name"]: r["event"] for r in events_of(result.trace, 1, "rpc.call", "rpc.cast")}
    assert kinds == {"migrate_server": "rpc.call", "select_destinations": "rpc.call",
                     "prep_resize": "rpc.cast", "resize_instance": "rpc.cast",
                     "finish_resize": "rpc.cast"}


def test_resources_move_with_the_instance():
    """Destination claims the new flavor in prep_resize; the source keeps the old one
    until confirm."""
    scenario = tiny()
    scenario["workload"][0]["confirm_after"] = 100
    result = simulator.run(scenario)
    claimed = [r for r in events_of(result.trace, 1, "state") if r.get("claimed")]
    released = [r for r in events_of(result.trace, 1, "state") if r.get("released")]
    assert [r["claimed"] for r in claimed] == ["cmp2"]
    assert [r["released"] for r in released] == ["cmp1"]
    assert result.summary["resources"] == {"claims": 2, "releases": 1}  # placement + claim; confirm


def test_unconfirmed_resize_ends_as_resized():
    result = _run()
    assert result.request(1)["status"] == "resized"
    assert result.summary["requests"]["by_status"]["resized"] == 1
    assert set(result.summary["requests"]["by_status"]) == set(REQUEST_STATUSES)
