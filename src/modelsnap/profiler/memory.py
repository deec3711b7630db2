"""Peak memory of a piece of work (a fit, a predict), as the increase over the RSS before it.

A fit's peak can last a few milliseconds, so sampling RSS late misses it, and tracemalloc does not
see memory allocated by C extensions (tree arrays, BLAS buffers). On Linux the kernel tracks the
high-water mark (``VmHWM``) exactly and lets a process reset it to the current RSS by writing
``5`` to ``/proc/self/clear_refs``: reset, run, read -> exact peak. Elsewhere (or where
``clear_refs`` is not writable) a thread samples psutil's RSS every millisecond; it can miss a
very short spike, which is why the method is recorded with the figure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

METHOD_VMHWM = "vmhwm-reset"
METHOD_PSUTIL = "psutil-rss-1ms"

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")

T = TypeVar("T")


def _status_kb(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def reset_high_water_mark() -> bool:
    """Reset VmHWM to the current RSS; False when the kernel does not allow it here."""
    try:
        with open(_CLEAR_REFS, "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def vmhwm_available() -> bool:
    """True when this process can reset and read its RSS high-water mark (Linux >= 4.0)."""
    return _status_kb("VmHWM") is not None and reset_high_water_mark()


def current_rss_bytes() -> int:
    kb = _status_kb("VmRSS")
    if kb is not None:
        return kb * 1024
    import psutil

    return int(psutil.Process().memory_info().rss)


@dataclass(frozen=True)
class PeakMemory:
    """The peak RSS increase over the RSS just before the work, in MB (2**20 bytes)."""

    peak_increase_mb: float
    baseline_mb: float
    method: str


class _Sampler(threading.Thread):
    """Polls RSS every ``interval`` seconds and keeps the maximum."""

    def __init__(self, interval: float) -> None:
        super().__init__(name="modelsnap-rss-sampler", daemon=True)
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self._stop_event = threading.Event()
        self.peak = self._process.memory_info().rss

    def run(self) -> None:
        while not self._stop_event.is_set():
            rss = self._process.memory_info().rss
            self.peak = max(self.peak, rss)
            self._stop_event.wait(self._interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        rss = self._process.memory_info().rss
        return max(self.peak, rss)


def measure_peak(work: Callable[[], T], *, force_method: str | None = None) -> tuple[T, PeakMemory]:
    """Run ``work()`` and return its result with the peak RSS increase it caused.

    ``force_method`` (METHOD_VMHWM or METHOD_PSUTIL) is for tests and the benchmark; by default
    the exact method is used whenever the kernel offers it.
    """
    method = force_method or (METHOD_VMHWM if vmhwm_available() else METHOD_PSUTIL)
    mb = float(2**20)
    if method == METHOD_VMHWM:
        baseline = current_rss_bytes()
        if not reset_high_water_mark():
            raise OSError("cannot reset the RSS high-water mark (/proc/self/clear_refs)")
        result = work()
        hwm_kb = _status_kb("VmHWM")
        if hwm_kb is None:
            raise OSError("cannot read VmHWM from /proc/self/status")
        peak = hwm_kb * 1024
    elif method == METHOD_PSUTIL:
        sampler = _Sampler(0.001)
        baseline = sampler.peak
        sampler.start()
        try:
            result = work()
        finally:
            peak = sampler.stop()
    else:
        raise ValueError(f"unknown memory method {method!r}")
    increase = max(0, peak - baseline)
    return result, PeakMemory(
        peak_increase_mb=increase / mb, baseline_mb=baseline / mb, method=method
    )


def resources_entry(fit: PeakMemory | None, predict: PeakMemory) -> dict[str, Any]:
    """The ``[resources]`` memory keys of the snapshot format."""
    entry: dict[str, Any] = {
        "peak_memory_predict_mb": round(predict.peak_increase_mb, 3),
        "memory_method": predict.method,
    }
    peak = predict.peak_increase_mb
    if fit is not None:
        entry["peak_memory_fit_mb"] = round(fit.peak_increase_mb, 3)
        peak = max(peak, fit.peak_increase_mb)
    entry["peak_memory_mb"] = round(peak, 3)
    return entry
