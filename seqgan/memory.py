"""Peak tensor memory of a piece of work, on CPU or CUDA."""

from __future__ import annotations

import json
import os
import tempfile

import torch
from torch.profiler import ProfilerActivity, profile


class PeakMemory:
    """`with PeakMemory(device) as peak: ...` then `peak.bytes`: the most tensor memory allocated at once
    during the block, above what was allocated when it began.

    On CUDA this is the caching allocator's peak. On CPU it replays the allocations and frees that
    torch's profiler records (its running "Total Allocated"), because the process's resident set
    measures the C allocator's caching instead: memory freed back to malloc's heap is reused
    without the resident set moving, so a second, larger pass can read as zero. The profiler slows
    the block down; do not time it.
    """

    def __init__(self, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.bytes = 0
        self._start = 0
        self._profiler: profile | None = None

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start = torch.cuda.memory_allocated(self.device)
        else:
            self._profiler = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
            self._profiler.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.bytes = torch.cuda.max_memory_allocated(self.device) - self._start
            return
        assert self._profiler is not None
        self._profiler.__exit__(*exc)
        fd, path = tempfile.mkstemp(suffix=".json")
        os.close(fd)
        try:
            self._profiler.export_chrome_trace(path)
            with open(path, encoding="utf-8") as f:
                events = json.load(f)["traceEvents"]
        finally:
            os.unlink(path)
        # "Total Allocated" starts from 0 at the profiler's start: the running sum of this block's
        # allocations minus its frees (negative when it frees tensors made before it).
        totals = [e["args"]["Total Allocated"] for e in events
                  if e.get("name") == "[memory]" and e.get("args", {}).get("Device Type", 0) == 0]
        self.bytes = max([0, *totals])


def available_bytes(device: torch.device | str = "cpu") -> int | None:
    """Memory the machine can still give this process: CUDA's free memory on a GPU, MemAvailable of /proc/meminfo
    on CPU; None where it cannot be read."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
