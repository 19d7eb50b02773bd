"""seqgan.cpu: threads on a shared machine, and what the CPU offers."""

import sys

import pytest
import torch

import seqgan.cpu as cpu
from seqgan.config import preset
from seqgan.train import configure_runtime, is_small_work


def _stat(path, busy, idle):
    # cpu user nice system idle iowait irq softirq steal
    path.write_text(f"cpu  {busy} 0 0 {idle} 0 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\n")
    return path


def test_idle_cpus_counts_the_idle_share_of_every_cpu_over_the_sample(tmp_path, monkeypatch):
    stat = _stat(tmp_path / "stat", busy=1000, idle=1000)
    monkeypatch.setattr(cpu, "PROC_STAT", stat)
    monkeypatch.setattr(cpu.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(cpu.time, "sleep", lambda s: _stat(stat, busy=1000 + 30, idle=1000 + 10))  # one core busy 3/4
    assert cpu.idle_cpus() == pytest.approx(2 * 10 / 40)
    monkeypatch.setattr(cpu, "PROC_STAT", tmp_path / "missing")
    assert cpu.idle_cpus() is None


@pytest.mark.parametrize("default, small, idle, expected", [
    (2, True, 2.0, 1),     # small work: one thread, however idle the machine
    (2, False, None, 2),   # cannot tell: torch's default
    (2, False, 1.95, 2),   # an idle machine: all of them
    (2, False, 1.75, 2),   # a core 25% busy still counts
    (2, False, 1.1, 1),    # another process keeps one core busy: one thread, off the cliff
    (2, False, 0.2, 1),    # everything busy: still one
    (8, False, 3.0, 3),    # never more than are idle
    (2, False, 6.0, 2),    # never more than torch's default
])
def test_choose_threads(default, small, idle, expected):
    assert cpu.choose_threads(default, small, idle) == expected


def test_discriminator_batch_flops_counts_convolutions_and_highway():
    # widths 2 and 3 over length 5, 4 and 6 filters, emb 3: convs 2·4·2·3·4 + 2·3·3·3·6; highway 2·2·10·10; batch 7
    assert cpu.discriminator_batch_flops([2, 3], [4, 6], 3, 5, 7) == 7 * (192 + 324 + 400)
    # sequences shorter than the widest filter are padded to it, as D does
    assert cpu.discriminator_batch_flops([4], [1], 1, 2, 1) == 2 * 1 * 4 * 1 * 1 + 4


def test_the_presets_small_work_is_the_tiny_one():
    assert is_small_work(preset("tiny"))
    assert not is_small_work(preset("small")) and not is_small_work(preset("paper"))


def test_threads_follow_the_setting_the_environment_or_the_idle_cpus(monkeypatch):
    before = torch.get_num_threads()
    cpu_device = torch.device("cpu")
    runtime = preset("small").runtime
    try:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        monkeypatch.setattr(sys.modules["seqgan.train"], "idle_cpus", lambda: 1.0)  # `seqgan.train` is also a function
        torch.set_num_threads(2)
        assert configure_runtime(runtime, cpu_device) == 1  # one core busy elsewhere: one thread
        torch.set_num_threads(2)
        assert configure_runtime(runtime, cpu_device, small_work=True) == 1
        # A later run in the same process starts again from torch's own count, not the 1 chosen before.
        monkeypatch.setattr(sys.modules["seqgan.train"], "TORCH_DEFAULT_THREADS", 2)
        monkeypatch.setattr(sys.modules["seqgan.train"], "idle_cpus", lambda: 2.0)
        assert configure_runtime(runtime, cpu_device) == 2
        monkeypatch.setattr(sys.modules["seqgan.train"], "idle_cpus", lambda: 1.0)
        torch.set_num_threads(2)
        assert configure_runtime(preset("small").override(["runtime.threads=2"]).runtime, cpu_device) == 2  # as set
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        torch.set_num_threads(2)
        assert configure_runtime(runtime, cpu_device) == 2  # the user's environment wins
    finally:
        torch.set_num_threads(before)
        torch.set_flush_denormal(False)


def test_bf16_matmul_is_read_from_the_cpu_flags(tmp_path, monkeypatch):
    info = tmp_path / "cpuinfo"
    info.write_text("processor: 0\nflags\t\t: fpu sse avx512f amx_bf16 amx_tile\n")
    monkeypatch.setattr(cpu, "PROC_CPUINFO", info)
    assert cpu.cpu_flags() >= {"amx_bf16", "avx512f"}
    assert cpu.has_bf16_matmul(torch.device("cpu")) == torch.backends.mkldnn.is_available()
    info.write_text("flags: fpu sse avx2\n")
    assert not cpu.has_bf16_matmul(torch.device("cpu"))
    monkeypatch.setattr(cpu, "PROC_CPUINFO", tmp_path / "missing")
    assert cpu.cpu_flags() == set()


def _faults_of_a_step() -> int:
    """Minor page faults of a step that allocates four 12 MiB tensors (D's 1720² casts are this size) and frees them."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    tensors = [torch.ones(3 * 2**20) for _ in range(4)]  # every page touched
    del tensors
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_keep_freed_memory_lets_every_step_reuse_the_last_steps_memory():
    # With glibc's defaults every such step faults ~12,000 fresh pages in: freeing 48 MiB at the heap's top trims it
    # (measured in a separate process: 12,256 faults per step, step after step). Kept, the memory is reused.
    assert cpu.keep_freed_memory()  # glibc accepted every setting (mallopt returns 0 for one it refuses)
    for _ in range(3):  # the heap grows to the step's size once
        _faults_of_a_step()
    assert [_faults_of_a_step() for _ in range(3)] == [pytest.approx(0, abs=200)] * 3


def test_configure_runtime_keeps_freed_memory_unless_told_not_to(monkeypatch):
    calls = []
    monkeypatch.setattr(sys.modules["seqgan.train"], "keep_freed_memory", lambda: calls.append(1) or True)
    threads = torch.get_num_threads()
    try:
        configure_runtime(preset("tiny").runtime, torch.device("cpu"), True)
        assert calls == [1]
        configure_runtime(preset("tiny").override(["runtime.malloc_tuning=false"]).runtime, torch.device("cpu"), True)
        assert calls == [1]
    finally:
        torch.set_num_threads(threads)
        torch.set_flush_denormal(False)


@pytest.mark.parametrize("seconds, own, others, threads, usual, warns", [
    (40.0, 1.5, 1.0, 2, [2.0, 2.5, 2.4], True),     # the cliff: 16x slower, another process on one of the 2 CPUs
    (40.0, 1.5, 0.0, 2, [2.0, 2.5, 2.4], False),    # slow, but nothing else ran: not contention (e.g. a bigger unit)
    (40.0, 0.1, 1.0, 2, [2.0, 2.5, 2.4], False),    # this process hardly ran: stopped or suspended, not the cliff
    (40.0, 1.0, 1.0, 1, [2.0, 2.5, 2.4], False),    # one thread has no barrier to wait at
    (5.0, 1.5, 1.0, 2, [2.0, 2.5, 2.4], False),     # about 2x: within a unit's usual spread (an evaluation, a slow phase)
    (40.0, 1.5, 1.0, 2, [2.0, 2.5], False),         # too few units to know the usual pace
    (40.0, 1.5, 0.3, 2, [2.0, 2.5, 2.4], False),    # a little background work fits beside 2 threads
])
def test_slowdown_reports_only_a_unit_stalled_by_other_processes(seconds, own, others, threads, usual, warns):
    message = cpu.slowdown(usual, seconds, own, others, threads, cpus=2)
    assert (message is not None) == warns
    if warns:
        assert "took 40 s against a usual 2.4 s" in message and "1.0 of the 2 CPUs" in message
        assert "OMP_NUM_THREADS=1" in message


def test_slowdown_watch_measures_other_processes_from_proc_stat_and_warns_once(tmp_path, monkeypatch):
    # A unit of 10 s in which all 2 CPUs were busy (20 CPU-seconds) and this process used 12 of them: the others 0.8.
    stat = tmp_path / "stat"
    monkeypatch.setattr(cpu, "PROC_STAT", stat)
    clock = {"wall": 0.0, "own": 0.0, "busy": 0}

    def advance(wall, own, busy_s):
        clock["wall"] += wall
        clock["own"] += own
        clock["busy"] += int(busy_s * cpu.CLOCK_TICKS)
        _stat(stat, busy=clock["busy"], idle=0)

    monkeypatch.setattr(cpu.time, "perf_counter", lambda: clock["wall"])
    monkeypatch.setattr(cpu.time, "process_time", lambda: clock["own"])
    watch = cpu.SlowdownWatch(threads=2, cpus=2)
    for _ in range(3):  # the usual pace: 1 s a unit on both CPUs, nothing else running
        _stat(stat, busy=clock["busy"], idle=0)
        watch.begin()
        advance(1.0, 2.0, 2.0)
        assert watch.end() is None
    for expected in (True, False):  # the stalled unit warns; the next one does not repeat it
        watch.begin()
        advance(10.0, 12.0, 20.0)
        message = watch.end()
        assert (message is not None) == expected
        if expected:
            assert "took 10 s against a usual 1.0 s while other processes (or the hypervisor) used 0.8 of the 2 CPUs" in message
