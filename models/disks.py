"""An instance's disks as the libvirt driver stores them, and the work a move does
with them (reference section 7).

``DiskLayout`` says how an instance's disks are kept: qcow2 overlays on a base image
from Glance (or raw files), a root that is a Cinder volume, attached volumes. The
host's ``storage`` says where: its own disk, a shared pool, or Ceph (rbd).

``source_work`` is what ``migrate_disk_and_power_off`` does, disk by disk, in the
domain's order (root, ephemeral, swap, config drive):

- nothing for a disk that is not a file (rbd, the volume root, attached volumes);
- Kilo flattens a qcow2 disk that has a backing file (``qemu-img convert``: reads the
  overlay and the base's data, writes the whole image) before it moves it;
- between hosts that do not share storage, one ssh stream per disk (``rsync`` or
  ``scp``, compressing or not, as the release does), each bound by one core's cipher
  or zlib; a raw file is read whole (holes too), a qcow2 file as allocated;
- on shared storage or the same host, a local ``cp`` through that storage (Kilo's
  flattened image is written there by the convert and only renamed).

``raw_to_qcow2`` and ``base_fetch`` are what ``finish_migration`` adds on the
destination: raw disks converted to qcow2 (``use_cow_images``), and the base image
fetched from Glance into the ``_base`` cache if it is not there (and converted to raw
with ``force_raw_images``).

The quantities are bytes *read* by the stream, the unit its per-stream limit counts;
``wire``, ``read`` and ``write`` are the bytes each resource sees per byte read.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from models.release import Release

GIB = 2 ** 30
MIB = 2 ** 20


class FlavorDisks(Protocol):
    """A flavor's disk sizes (``models.objects.Flavor``)."""

    root_gb: int
    ephemeral_gb: int
    swap_mb: int


@dataclass(frozen=True)
class BaseImage:
    """A Glance image that instances' qcow2 overlays (or raw copies) are made from."""

    name: str
    #: its size in Glance, and its data in ``_base``
    bytes: float
    #: Glance's disk format (a qcow2 image is converted to raw in ``_base``)
    disk_format: str = "qcow2"
    #: every host's (and pool's) cache holds it from the start
    cached_everywhere: bool = False


@dataclass(frozen=True)
class DiskLayout:
    """How one instance's disks are stored."""

    image: BaseImage | None = None
    #: ``qcow2`` or ``raw``
    disk_format: str = "qcow2"
    boot_from_volume: bool = False
    #: the attached Cinder volumes' sizes in GiB (never copied)
    volumes: tuple[int, ...] = ()
    #: the qcow2 disks still sit on their base images (False once a Kilo move has
    #: flattened them: a later move copies them as they are)
    backed: bool = True

    @property
    def qcow2(self) -> bool:
        return self.disk_format == "qcow2"


#: a disk with no backing file, no volumes: what an instance is when nothing is said
PLAIN = DiskLayout()


@dataclass(frozen=True)
class DiskFile:
    """One of an instance's disk files on the source."""

    name: str
    #: bytes allocated on disk
    allocated: float
    #: the file's apparent size (a raw file's virtual size, holes included)
    apparent: float
    qcow2: bool
    #: it is a qcow2 overlay on a base in ``_base`` (bytes of data under it)
    backing: float | None = None


@dataclass(frozen=True)
class Work:
    """One timed piece of a move's disk work: a stream that reads ``bytes``."""

    #: ``copy`` (between hosts), ``cp`` (local or on shared storage), ``convert``
    #: (``qemu-img convert``, local), ``fetch`` (from Glance)
    kind: str
    disk: str
    bytes: float
    #: network bytes per byte read (0: a local stream)
    wire: float = 0.0
    #: bytes read from the source's disk (or pool) per byte read
    read: float = 1.0
    #: bytes written to the destination's disk (or pool) per byte read
    write: float = 1.0
    #: as flows.csv names it: ``rsync``, ``rsync -z``, ``scp``, ``scp -C``, ``cp``,
    #: ``qemu-img``, ``http``
    transport: str = ""
    compressed: bool = False


@dataclass(frozen=True)
class Transport:
    """The copy settings a move's streams follow (scenario ``copy``, the release's defaults)."""

    name: str
    #: compress every stream (True), none (False), or as the release does (None)
    compress: bool | None
    #: bytes read per byte on the wire of a compressing stream
    compression: float

    def compresses(self, disk: DiskFile, release: Release) -> bool:
        if self.compress is not None:
            return self.compress
        if self.name == "rsync":
            return release.compresses_qcow2 or not disk.qcow2
        return release.scp_compresses and not disk.qcow2


def disk_files(inst_disk_used_gb: float, ephemeral_used_gb: float, config_drive_mb: float,
               layout: DiskLayout, old: FlavorDisks, new: FlavorDisks, release: Release, *, rbd: bool) -> list[DiskFile]:
    """The file disks ``get_instance_disk_info`` lists that the move copies, in the
    domain's order. On rbd the root, ephemeral and swap are Ceph volumes (the config
    drive too, since Liberty); a volume root is Cinder's; swap is copied only by Kilo and
    only if the new flavor keeps its size."""
    q = layout.qcow2
    files: list[DiskFile] = []
    if not rbd:
        if not layout.boot_from_volume:
            base = layout.image.bytes if (q and layout.image is not None and layout.backed) else None
            files.append(DiskFile("disk", inst_disk_used_gb * GIB, old.root_gb * GIB, q, base))
        if old.ephemeral_gb:
            # a qcow2 ephemeral is an overlay on a blank formatted base (no data to speak of)
            files.append(DiskFile("disk.local", ephemeral_used_gb * GIB, old.ephemeral_gb * GIB, q,
                                  0.0 if q and layout.backed else None))
        if old.swap_mb and release.copies_swap and new.swap_mb == old.swap_mb:
            files.append(DiskFile("disk.swap", old.swap_mb * MIB, old.swap_mb * MIB, q,
                                  0.0 if q and layout.backed else None))
    if config_drive_mb and (not rbd or release.config_drive_local_on_rbd):
        files.append(DiskFile("disk.config", config_drive_mb * MIB, config_drive_mb * MIB, False))
    return [f for f in files if f.allocated > 0 or (f.backing or 0) > 0 or (not f.qcow2 and f.apparent > 0)]


def source_work(files: list[DiskFile], release: Release, transport: Transport, *, local: bool) -> list[Work]:
    """``migrate_disk_and_power_off``'s timed work for ``files``: ``local`` when the
    source and destination share the storage (or are one host)."""
    works: list[Work] = []
    for f in files:
        if release.flattens_backing_files and f.qcow2 and f.backing is not None:
            flat = min(f.apparent, f.allocated + f.backing) if f.apparent > 0 else f.allocated + f.backing
            if flat <= 0:
                continue
            works.append(Work("convert", f.name, flat, read=(f.allocated + f.backing) / flat, write=1.0,
                              transport="qemu-img"))
            if not local:  # the flattened image is copied; on shared storage only renamed (mv)
                works.append(_stream(f.name, flat, flat, flat, transport.compresses(f, release), transport))
            continue
        if local:  # cp keeps holes: it reads and writes what is allocated
            if f.allocated > 0:
                works.append(Work("cp", f.name, f.allocated, transport="cp"))
            continue
        if f.qcow2:
            works.append(_stream(f.name, f.allocated, f.allocated, f.allocated, transport.compresses(f, release),
                                 transport))
        else:
            # a raw file is read whole, holes as zeros; rsync --sparse recreates the holes,
            # scp writes the zeros
            written = f.allocated if transport.name == "rsync" else f.apparent
            works.append(_stream(f.name, f.apparent, f.allocated, written, transport.compresses(f, release),
                                 transport))
    return works


def flattened(layout: DiskLayout, files: list[DiskFile], release: Release,
              disk_used_gb: float) -> tuple[DiskLayout, float] | None:
    """The instance's disks on the destination after a move that flattened them
    (Kilo): no backing files, the root as large as the flattened image; None when
    nothing was flattened. The base image stays named: Kilo's ``_create_image`` still
    fetches it."""
    if not release.flattens_backing_files or not any(f.qcow2 and f.backing is not None for f in files):
        return None
    root = next((f for f in files if f.name == "disk" and f.backing is not None), None)
    if root is not None:
        flat = root.allocated + root.backing
        disk_used_gb = (min(root.apparent, flat) if root.apparent > 0 else flat) / GIB
    return replace(layout, backed=False), disk_used_gb


def _stream(disk: str, read: float, data: float, written: float, compressed: bool, t: Transport) -> Work:
    """A disk sent over ssh: ``read`` bytes read (holes included), ``data`` of them
    allocated, ``written`` written on the destination."""
    # compressed, the holes vanish and the data shrinks by the compression ratio
    wire = (data / t.compression if compressed else read) / read
    label = t.name + ((" -z" if t.name == "rsync" else " -C") if compressed else "")
    return Work("copy", disk, read, wire=wire, read=data / read, write=written / read, transport=label,
                compressed=compressed)


def raw_to_qcow2(files: list[DiskFile]) -> list[Work]:
    """``finish_migration``'s ``_disk_raw_to_qcow2`` with ``use_cow_images``: each raw
    disk copied but the config drive (always raw) is converted to qcow2 on the
    destination; ``qemu-img convert`` skips the holes, reading and writing the data."""
    return [Work("convert", f.name, f.allocated, transport="qemu-img")
            for f in files if not f.qcow2 and f.name != "disk.config" and f.allocated > 0]


def base_fetch(image: BaseImage, force_raw: bool) -> list[Work]:
    """What a destination whose ``_base`` lacks ``image`` does: download it from Glance
    (``fetch_to_raw``), then convert a qcow2 image to raw (``force_raw_images``)."""
    works = [Work("fetch", f"_base/{image.name}", image.bytes, wire=1.0, read=0.0, write=1.0, transport="http")]
    if force_raw and image.disk_format == "qcow2":
        works.append(Work("convert", f"_base/{image.name}", image.bytes, transport="qemu-img"))
    return works
