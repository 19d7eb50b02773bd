"""What this CPU offers a run: bfloat16 matrix units, and how many threads to use on a machine others share.

Threads: torch uses one OpenMP thread per core by default. When another process keeps one of those cores busy,
every parallel operation waits at its barrier for the thread that is not running, and small operations become
10–50× slower than on one thread (measured on the project's 2-core machine: a tiny-preset run went from 2 s to
80–100 s). `choose_threads` therefore counts the cores that are idle when a run starts, and runs work too small
to gain from a second thread on one thread (benchmarks/bench_threads.py measures both).

Memory: glibc's malloc returns freed memory to the OS (heap trimming, and `mmap` for blocks over a threshold that it
keeps moving), so a training step that frees and re-allocates the same large temporaries every time pays page faults
for them at every step: about 3,500 a step for the paper's D in bfloat16. `keep_freed_memory` makes it keep freed
memory for reuse instead (benchmarks/bench_malloc.py measures it).
"""

from __future__ import annotations

import ctypes
import math
import os
import time
from pathlib import Path

import torch

PROC_STAT = Path("/proc/stat")
PROC_CPUINFO = Path("/proc/cpuinfo")
SMALL_WORK_FLOPS = 20e6
"""Below this many FLOPs in D_φ's forward pass over one batch (the run's largest recurring operation) a run is
'small work': one thread. The tiny preset's D does ~0.3 MFLOP a batch, the small preset's ~70 MFLOP, the paper's
~1.7 GFLOP."""
IDLE_SAMPLE_S = 0.2
TORCH_DEFAULT_THREADS = torch.get_num_threads()
"""torch's own thread count, read before any run changed it: `runtime.threads = 0` caps this, not whatever an earlier
run in the same process chose (one small or crowded run must not leave every later one on one thread)."""
BF16_MIN_FLOPS = 500e6
"""runtime.precision = 'auto' runs D_φ in bfloat16 from this many FLOPs in its forward pass over one batch. In an
ad-hoc probe on this project's CPU (1 thread, interleaved, a loaded machine; not a committed script), the small
preset's D (~70 MFLOP a batch) trained 10% slower in bfloat16 and the tiny one's 45% slower (the conversions
outweigh the GEMMs); the paper's D (~1.7 GFLOP) 1.30× faster (benchmarks/bench_precision.py, RESULTS.md)."""


GENERATOR_BF16_MIN_FLOPS = 150e6
"""runtime.precision = 'auto' runs G_θ's gradient GEMMs (the fused MLE and policy-gradient loss) in bfloat16 from this
many FLOPs in its output projection over one batch, 2·B·T·(H+1)·V. The loss forward + backward over 1,280 rows at
H 32 (benchmarks/bench_precision.py, quiet, 2026-11-30): vocabulary 500 (42 MFLOP) 0.89× in bfloat16, 1,000
(84 MFLOP) 1.00×, 2,000 (169 MFLOP) 1.15×, 5,000 (422 MFLOP, the paper's G) 1.17×."""


def generator_batch_flops(batch_size: int, seq_len: int, hidden: int, vocab_size: int) -> float:
    """FLOPs of G_θ's output projection over one batch (the logits GEMM; its two gradient GEMMs cost the same each)."""
    return float(2 * batch_size * seq_len * (hidden + 1) * vocab_size)


# glibc's mallopt parameters (malloc.h) and the values `keep_freed_memory` sets: blocks up to 32 MiB (the largest
# threshold glibc accepts) come from the heap, and the heap is trimmed only past 1 GiB free, padded by 64 MiB.
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
MALLOC_SETTINGS = ((M_MMAP_THRESHOLD, 32 * 2**20), (M_TRIM_THRESHOLD, 2**30), (M_TOP_PAD, 64 * 2**20))


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for the next allocation instead of returning it to the OS, so that the
    tensors a training step frees and allocates again every step do not page-fault each time. Process-wide and
    permanent. Returns whether it applied (False off glibc). The three settings go together: a trim threshold
    alone also freezes the mmap threshold at its default 128 KiB, which made D's float32 steps 17% slower (measured)."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return all(mallopt(param, value) == 1 for param, value in MALLOC_SETTINGS)


def cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux lists them (/proc/cpuinfo); empty elsewhere."""
    try:
        with PROC_CPUINFO.open(encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def has_bf16_matmul(device: torch.device) -> bool:
    """Whether this device multiplies bfloat16 matrices natively: AMX or AVX512-BF16 on CPU, bf16 on CUDA."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    return torch.backends.mkldnn.is_available() and bool(cpu_flags() & {"amx_bf16", "avx512_bf16"})


def cpu_ticks(path: Path = PROC_STAT) -> list[int] | None:
    """user nice system idle iowait irq softirq steal clock ticks of all CPUs since boot (guest time is in user), from
    /proc/stat; None where there is none or it has no steal column."""
    try:
        fields = path.read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 9:
        return None
    return [int(x) for x in fields[1:9]]


def _busy_idle_ticks() -> tuple[int, int] | None:
    """(busy, idle) clock ticks of all CPUs since boot; None where /proc/stat cannot tell."""
    ticks = cpu_ticks(PROC_STAT)
    if ticks is None:
        return None
    idle = ticks[3] + ticks[4]  # idle + iowait
    return sum(ticks) - idle, idle


def idle_cpus(sample_s: float = IDLE_SAMPLE_S) -> float | None:
    """How many CPUs' worth of time went idle over `sample_s` seconds (this process sleeping meanwhile), or None
    where /proc/stat cannot tell."""
    start = _busy_idle_ticks()
    time.sleep(sample_s)
    end = _busy_idle_ticks()
    if start is None or end is None:
        return None
    busy, idle = end[0] - start[0], end[1] - start[1]
    if busy + idle <= 0:
        return None
    return (os.cpu_count() or 1) * idle / (busy + idle)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100  # /proc/stat's units per second
SLOWDOWN_FACTOR = 3.0
"""A unit of training this many times slower than the run's median unit, while other processes held CPUs its threads
needed, is reported by `SlowdownWatch`."""


class SlowdownWatch:
    """Notices the cliff above while a run is going: a unit of training (an epoch, a d-step, a round) far slower than
    the run's usual pace while other processes (or the hypervisor) held CPUs that torch's threads needed.

    A run chooses its threads when it starts; a process that starts later on a shared machine stalls it without a
    word. Timing only (the wall clock, this process's CPU time and /proc/stat around each unit): it changes nothing
    and reports at most once per phase."""

    def __init__(self, threads: int, cpus: int | None = None):
        self.threads = threads
        self.cpus = cpus or os.cpu_count() or 1
        self.seconds: list[float] = []
        self.warned = False
        self._start: tuple[float, float, tuple[int, int] | None] | None = None

    def begin(self) -> None:
        self._start = (time.perf_counter(), time.process_time(), _busy_idle_ticks())

    def end(self) -> str | None:
        """The warning for the unit since `begin`, or None."""
        if self._start is None:
            return None
        wall0, own0, ticks0 = self._start
        wall, own, ticks = time.perf_counter() - wall0, time.process_time() - own0, _busy_idle_ticks()
        others = None
        if ticks0 is not None and ticks is not None and wall > 0:
            others = max(0.0, (ticks[0] - ticks0[0]) / CLOCK_TICKS - own) / wall
        message = None if self.warned else slowdown(self.seconds, wall, own / wall if wall > 0 else 0.0, others,
                                                    self.threads, self.cpus)
        self.seconds.append(wall)
        self.warned = self.warned or message is not None
        return message


def slowdown(usual: list[float], seconds: float, own_cpus: float, other_cpus: float | None, threads: int,
             cpus: int) -> str | None:
    """The warning for a unit of `seconds`, after units that took `usual`; None unless the unit was at least
    SLOWDOWN_FACTOR times the median of 3 or more earlier ones, this process was running (`own_cpus`, CPUs' worth of
    its time over the unit: a stopped or suspended process is slow for another reason), and its threads plus the
    CPUs other processes used (`other_cpus`) did not fit on the machine."""
    if threads < 2 or len(usual) < 3 or other_cpus is None:
        return None
    pace = sorted(usual)[len(usual) // 2]
    if seconds < SLOWDOWN_FACTOR * pace or own_cpus < 0.5 or threads + other_cpus <= cpus + 0.5:
        return None
    return (f"this unit took {seconds:.0f} s against a usual {pace:.1f} s while other processes (or the hypervisor) "
            f"used {other_cpus:.1f} of the {cpus} CPUs and torch ran {threads} threads, which then wait on each "
            "other; free the CPUs, or stop the run (Ctrl-C keeps the work up to the last checkpoint) and resume it "
            "with OMP_NUM_THREADS=1 until they are free")


def choose_threads(default: int, small_work: bool, idle: float | None) -> int:
    """Threads for a run: 1 for small work; else torch's default capped at the CPUs idle now (at least 1).

    `idle` is `idle_cpus()`: a core that is 70% idle counts (a process waking now and then must not cost a whole
    thread), one that is busy most of the time does not."""
    if small_work:
        return 1
    if idle is None:
        return default
    return max(1, min(default, math.floor(idle + 0.3)))


def discriminator_batch_flops(filter_sizes: list[int], num_filters: list[int], emb_dim: int, seq_len: int,
                              batch_size: int) -> float:
    """FLOPs of D_φ's forward pass over one batch: its convolutions and its highway."""
    length = max(seq_len, max(filter_sizes))
    conv = sum(2 * (length - w + 1) * w * emb_dim * n for w, n in zip(filter_sizes, num_filters))
    total = sum(num_filters)
    return float(batch_size * (conv + 2 * 2 * total * total))
