"""Nova's names for instance states, task states, migration statuses, and ours for
request outcomes. (nova/compute/vm_states.py, nova/compute/task_states.py)"""

# vm_state
ACTIVE = "active"
STOPPED = "stopped"
RESIZED = "resized"
ERROR = "error"

# task_state
RESIZE_PREP = "resize_prep"
RESIZE_MIGRATING = "resize_migrating"
RESIZE_MIGRATED = "resize_migrated"
RESIZE_FINISH = "resize_finish"
RESIZE_REVERTING = "resize_reverting"
REBOOTING_HARD = "rebooting_hard"

#: task states that make the IoOpsWeigher count an instance as an I/O operation
IO_OPS_TASK_STATES = frozenset({RESIZE_MIGRATING, RESIZE_PREP})
#: the resource audit counts a move's claims only while its instance is in one of these
RESIZE_TASK_STATES = frozenset({RESIZE_PREP, RESIZE_MIGRATING, RESIZE_MIGRATED, RESIZE_FINISH})

# Migration.status
PRE_MIGRATING = "pre-migrating"
MIGRATING = "migrating"
POST_MIGRATING = "post-migrating"
#: a move before VERIFY_RESIZE: its destination claim is still a pending one
PENDING_MIGRATION = (PRE_MIGRATING, MIGRATING, POST_MIGRATING)
FINISHED = "finished"
#: the moves a resource audit may stop counting: before VERIFY_RESIZE, or at it
#: (``finished``) once an operator's reset took the instance out of RESIZED
AUDITED_MIGRATION = PENDING_MIGRATION + (FINISHED,)
CONFIRMING = "confirming"
CONFIRMED = "confirmed"
REVERTING = "reverting"
REVERTED = "reverted"
MIGRATION_ERROR = "error"

#: the vm_states nova-api accepts a resize or migrate from (check_instance_state)
RESIZABLE_VM_STATES = frozenset({ACTIVE, STOPPED})
#: the vm_states and task states nova-api accepts a hard reboot from
#: (vm_states.ALLOW_HARD_REBOOT, task_states.ALLOW_REBOOT; the others never occur here:
#: paused, suspended, rebooting, reboot_pending, reboot_started, resuming, unpausing,
#: pausing, suspending)
ALLOW_HARD_REBOOT = frozenset({ACTIVE, STOPPED, "paused", "suspended", ERROR})
ALLOW_REBOOT = frozenset({None, REBOOTING_HARD, "rebooting", "reboot_pending", "reboot_started", "resuming",
                          "unpausing", "pausing", "suspending"})

# Final status of a request, as requests.csv and summary.json report it.
REQUEST_STATUSES = ("confirmed", "reverted", "resized", "rejected", "error", "stuck", "in_flight")
#: the statuses whose latency is a completed move (the instance reached VERIFY_RESIZE)
MOVED = ("confirmed", "reverted", "resized")
