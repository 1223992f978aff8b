"""Where each step we simulate lives in Nova's code (Kilo's layout).

Trace events carry the short name (``prep_resize``); this table gives the file and
the qualified name a student looks up (``nova/compute/manager.py
ComputeManager.prep_resize``).
"""

NOVA_FUNCTIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("nova-api", "resize"): ("nova/compute/api.py", "API.resize"),
    ("nova-api", "confirm_resize"): ("nova/compute/api.py", "API.confirm_resize"),
    ("nova-api", "revert_resize"): ("nova/compute/api.py", "API.revert_resize"),
    ("nova-compute", "revert_resize"): ("nova/compute/manager.py", "ComputeManager.revert_resize"),
    ("nova-compute", "finish_revert_resize"): ("nova/compute/manager.py", "ComputeManager.finish_revert_resize"),
    ("nova-compute", "finish_revert_migration"): ("nova/virt/libvirt/driver.py", "LibvirtDriver.finish_revert_migration"),
    ("nova-compute", "resize_claim"): ("nova/compute/resource_tracker.py", "ResourceTracker.resize_claim"),
    ("nova-conductor", "migrate_server"): ("nova/conductor/manager.py", "ComputeTaskManager.migrate_server"),
    ("nova-scheduler", "select_destinations"): ("nova/scheduler/manager.py", "SchedulerManager.select_destinations"),
    ("nova-compute", "prep_resize"): ("nova/compute/manager.py", "ComputeManager.prep_resize"),
    ("nova-compute", "resize_instance"): ("nova/compute/manager.py", "ComputeManager.resize_instance"),
    ("nova-compute", "finish_resize"): ("nova/compute/manager.py", "ComputeManager.finish_resize"),
    ("nova-compute", "confirm_resize"): ("nova/compute/manager.py", "ComputeManager.confirm_resize"),
    ("nova-compute", "_poll_unconfirmed_resizes"): ("nova/compute/manager.py", "ComputeManager._poll_unconfirmed_resizes"),
    ("nova-compute", "power_off"): ("nova/virt/libvirt/driver.py", "LibvirtDriver._clean_shutdown"),
    ("nova-compute", "copy_disks"): ("nova/virt/libvirt/driver.py", "LibvirtDriver.migrate_disk_and_power_off"),
    ("nova-compute", "finish_migration"): ("nova/virt/libvirt/driver.py", "LibvirtDriver.finish_migration"),
}


def where(service: str, name: str) -> str:
    """``nova/compute/manager.py ComputeManager.prep_resize`` for a step, or ''."""
    f = NOVA_FUNCTIONS.get((service, name))
    return f"{f[0]} {f[1]}" if f else ""
