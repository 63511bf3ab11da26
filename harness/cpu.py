"""Machine-wide CPU use from /proc/stat, to tell "the app is slow" from "the machine was busy"."""

from __future__ import annotations

import os
import time


def snapshot() -> tuple[float, int, int, int] | None:
    """(monotonic time, busy ticks, idle ticks, steal ticks) or None where /proc/stat is missing."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return time.monotonic(), user + nice + system + irq + softirq, idle + iowait, steal


def busy_cpus(before, after) -> dict | None:
    """CPUs kept busy (by anything on the machine) between two snapshots, and CPUs stolen by the host."""
    if before is None or after is None:
        return None
    seconds = after[0] - before[0]
    tick = os.sysconf("SC_CLK_TCK")
    return {
        "busy_cpus": round((after[1] - before[1]) / tick / seconds, 2),
        "steal_cpus": round((after[3] - before[3]) / tick / seconds, 2),
        "cpus": os.cpu_count(),
        "seconds": round(seconds, 2),
    }
