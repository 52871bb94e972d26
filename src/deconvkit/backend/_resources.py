"""What the machine offers: the memory a process can still allocate."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["available_memory"]


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def available_memory() -> int | None:
    """Bytes this process can still allocate, or None where the system does not say.

    The smallest of: ``MemAvailable`` in ``/proc/meminfo`` (Linux), the room
    left under a cgroup memory limit (containers, v2 then v1), and
    ``os.sysconf`` available pages (other Unix systems, when nothing else answered).
    """
    found: list[int] = []
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo", encoding="ascii") as info:
        for line in info:
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
                break
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
         "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < 2**60:
            found.append(max(limit - usage, 0))
            break
    if not found:
        with contextlib.suppress(AttributeError, ValueError, OSError):
            pages, size = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
            if pages > 0 and size > 0:
                found.append(pages * size)
    return min(found) if found else None
