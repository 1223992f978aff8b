"""What differs between the Nova releases we model, in one place per release.

``nova.release`` picks a profile: ``kilo`` (the seed's flow: a blocking API call, the
destination's claim creating the Migration, Kilo's resource tracker and scheduler
defaults) or ``modern`` (the MigrationTask flow with placement, as in Nova since
Queens; reference sections 8 and 9). Code asks the profile a question named for the
behaviour (``release.placement``, ``release.api_waits_for_conductor``), never which
release it is, so a new difference is a new field here and the code that reads it.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

from models.object_calls import KILO_STEPS, MODERN_STEPS, ObjectCalls


@dataclass(frozen=True)
class Release:
    """One release's behaviour and option defaults."""

    name: str
    #: defaults of the options whose default this release changed (scenario ``nova.*``)
    defaults: Mapping[str, Any]
    #: nova-api calls the conductor's ``migrate_server`` and waits through scheduling
    #: (200/400/500 after it), or casts it and answers 202 at once
    api_waits_for_conductor: bool
    #: a cold migration may stay on its host when ``allow_migrate_to_same_host`` says
    #: so (Kilo); modern Nova always ignores the instance's own host for a migrate
    migrate_honours_same_host_option: bool
    #: the API refuses a confirm (409) while the source's nova-compute is seen down,
    #: and the auto-confirm task retries later
    confirm_checks_source_service: bool
    #: the scheduler claims the new flavor in placement as it picks (resource
    #: filters replaced by placement's query), and returns alternates to reschedule to
    placement: bool
    #: the conductor creates the Migration before scheduling (MigrationTask); else
    #: the destination's resize claim does
    conductor_creates_migration: bool
    #: the boot RequestSpec is kept, so scheduler hints apply to moves too
    keeps_request_spec: bool
    #: the scheduler client retries a ``select_destinations`` that timed out
    #: (Kilo's ``@retry_select_destinations``); else the move fails at once
    scheduler_client_retries: bool
    #: a resource audit stops counting an abandoned move's claims (Kilo's resource
    #: tracker); placement's allocations are no audit's to heal (they leak)
    audit_heals_claims: bool
    #: migrate_disk_and_power_off flattens a qcow2 disk onto its backing file
    #: (``qemu-img convert``) and copies the whole image (Kilo); else the overlay alone
    #: is copied and the destination needs the base image (Liberty on)
    flattens_backing_files: bool
    #: the swap disk is copied unless the new flavor changes its size (Kilo); else it
    #: is recreated on the destination (Ocata on)
    copies_swap: bool
    #: the transport when ``copy.transport`` is not set: Kilo's ``rsync`` (scp only if
    #: its dry run fails), modern ``[libvirt] remote_filesystem_transport = ssh`` (scp)
    default_transport: str
    #: the transport compresses qcow2 disks too (Kilo's ``rsync --compress``); else only
    #: the others (modern ``scp -C`` / ``rsync --compress`` for non-qcow2 disks)
    compresses_qcow2: bool
    #: scp compresses at all (modern ``scp -C`` for non-qcow2 disks, Victoria on);
    #: Kilo's scp fallback does not
    scp_compresses: bool
    #: placement asks DISK_GB for the root of a volume-backed instance (Kilo's resource
    #: tracker and DiskFilter count the flavor's root_gb anyway); modern Nova does not
    volume_root_claims_disk: bool
    #: the config drive of an rbd-backed instance is a local file that is copied
    #: (Kilo); else it is imported into rbd with the other disks (Liberty on)
    config_drive_local_on_rbd: bool
    #: ``select_destinations`` and the reschedule's ``migrate_server`` wait up to
    #: ``long_rpc_timeout`` with call monitoring (Stein / Ussuri on); else they wait
    #: ``rpc_response_timeout`` like every other call
    monitors_long_calls: bool
    #: ``API.resize`` refuses (409) a move whose source nova-compute is seen down
    #: (``check_instance_host(check_is_up=True)``, Ussuri on)
    resize_checks_source_service: bool
    #: quotas are counted (``check_deltas`` against the instances' flavors, Pike on),
    #: with no reservations; else Kilo's reservations, committed later
    counts_quotas: bool
    #: a rollback before power-off restores the vm_state the instance had (Train /
    #: Ussuri on); else it always sets ACTIVE (Kilo)
    rollback_keeps_vm_state: bool
    #: the conductor records ``conductor_migrate_server`` around ``migrate_server``
    #: (Newton on) as well as ``cold_migrate``
    conductor_migrate_server_event: bool
    #: instance action events record the host they ran on (Pike on)
    action_events_record_host: bool
    #: the object calls nova-compute makes to nova-conductor at each step of a move
    object_calls: Mapping[str, ObjectCalls]

    def long_call(self, conf: Any) -> tuple[float, float | None]:
        """(timeout, call monitor) of a long call: modern Nova's ``long_rpc_timeout``
        with heartbeats every half ``rpc_response_timeout``, or Kilo's plain
        ``rpc_response_timeout``."""
        if self.monitors_long_calls:
            return conf.long_rpc_timeout, conf.rpc_response_timeout
        return conf.rpc_response_timeout, None

    def alternates(self, max_attempts: int) -> int:
        """How many alternate hosts the scheduler returns with its pick."""
        return max_attempts - 1 if self.placement else 0


KILO = Release(
    name="kilo",
    defaults=MappingProxyType({
        "cpu_allocation_ratio": 16.0, "ram_allocation_ratio": 1.5, "disk_allocation_ratio": 1.0,
        "notification_format": "unversioned",
        "scheduler_default_filters": ("RetryFilter", "AvailabilityZoneFilter", "RamFilter", "ComputeFilter",
                                      "ComputeCapabilitiesFilter", "ImagePropertiesFilter",
                                      "ServerGroupAntiAffinityFilter", "ServerGroupAffinityFilter"),
        "scheduler_weight_classes": ("RAMWeigher", "MetricsWeigher", "IoOpsWeigher")}),
    api_waits_for_conductor=True,
    migrate_honours_same_host_option=True,
    confirm_checks_source_service=False,
    placement=False,
    conductor_creates_migration=False,
    keeps_request_spec=False,
    scheduler_client_retries=True,
    audit_heals_claims=True,
    flattens_backing_files=True,
    copies_swap=True,
    default_transport="rsync",
    compresses_qcow2=True,
    scp_compresses=False,
    volume_root_claims_disk=True,
    config_drive_local_on_rbd=True,
    monitors_long_calls=False,
    resize_checks_source_service=False,
    counts_quotas=False,
    rollback_keeps_vm_state=False,
    conductor_migrate_server_event=False,
    action_events_record_host=False,
    object_calls=KILO_STEPS,
)

MODERN = Release(
    name="modern",
    defaults=MappingProxyType({
        "cpu_allocation_ratio": 4.0, "ram_allocation_ratio": 1.0, "disk_allocation_ratio": 1.0,
        "long_rpc_timeout": 1800.0, "notification_format": "unversioned",
        "scheduler_default_filters": ("ComputeFilter", "AvailabilityZoneFilter", "ComputeCapabilitiesFilter",
                                      "ImagePropertiesFilter", "ServerGroupAntiAffinityFilter",
                                      "ServerGroupAffinityFilter"),
        "scheduler_weight_classes": ("RAMWeigher", "CPUWeigher", "DiskWeigher", "MetricsWeigher",
                                     "IoOpsWeigher")}),
    api_waits_for_conductor=False,
    migrate_honours_same_host_option=False,
    confirm_checks_source_service=True,
    placement=True,
    conductor_creates_migration=True,
    keeps_request_spec=True,
    scheduler_client_retries=False,
    audit_heals_claims=False,
    flattens_backing_files=False,
    copies_swap=False,
    default_transport="scp",
    compresses_qcow2=False,
    scp_compresses=True,
    volume_root_claims_disk=False,
    config_drive_local_on_rbd=False,
    monitors_long_calls=True,
    resize_checks_source_service=True,
    counts_quotas=True,
    rollback_keeps_vm_state=True,
    conductor_migrate_server_event=True,
    action_events_record_host=True,
    object_calls=MODERN_STEPS,
)

#: the releases a scenario may name, by ``nova.release``
RELEASES: Mapping[str, Release] = MappingProxyType({r.name: r for r in (KILO, MODERN)})
