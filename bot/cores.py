"""How many cores this process may really use: its CPU affinity, capped by a container's quota.

`os.cpu_count()` counts the host's cores, so a container limited to one CPU on a 32-core host
would start 32 web processes. The quota is read from cgroup v2 (`cpu.max`) or v1
(`cpu.cfs_quota_us` / `cpu.cfs_period_us`); none (`max`, `-1`) or none readable means no cap.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def usable_cores(cgroup_root: Path = CGROUP_ROOT) -> int:
    """At least 1: the cores this process may run on, within its cgroup's CPU quota."""
    cores = _affinity_cores()
    quota = cgroup_cpu_quota(cgroup_root)
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(1, cores)


def cgroup_cpu_quota(cgroup_root: Path = CGROUP_ROOT) -> float | None:
    """CPUs' worth of time the cgroup may use (1.5 = one and a half cores), or None: no limit."""
    v2 = _read(cgroup_root / "cpu.max")
    if v2 is not None:
        quota, _, period = v2.partition(" ")
        return _ratio(quota, period)
    v1_quota = _read(cgroup_root / "cpu" / "cpu.cfs_quota_us")
    v1_period = _read(cgroup_root / "cpu" / "cpu.cfs_period_us")
    if v1_quota is None or v1_period is None:
        return None
    return _ratio(v1_quota, v1_period)


def _affinity_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _ratio(quota: str, period: str) -> float | None:
    try:
        quota_us, period_us = int(quota), int(period)
    except ValueError:  # "max": no limit
        return None
    if quota_us <= 0 or period_us <= 0:  # -1: no limit
        return None
    return quota_us / period_us


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
