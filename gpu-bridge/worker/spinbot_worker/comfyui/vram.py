"""Peak GPU memory while a workflow runs, read from ComfyUI's GET /system_stats.

ComfyUI owns the GPU (the worker has no torch), so its /system_stats is where the worker sees the
memory a stage needs: devices[0].vram_total - vram_free, where vram_free is the device's free
memory plus torch's cached but unused memory (comfy.model_management.get_free_memory). Sampled
when the run starts, on progress messages (at most every MIN_GAP seconds), every INTERVAL seconds
between them (a model loading sends none), and once more at the end, while the models are still
loaded. A failed read is skipped: watching must never fail a job.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Mapping

import aiohttp

from .preflight import gpu_device

INTERVAL = 1.0
MIN_GAP = 0.25


def used_bytes(system_stats: Mapping | None) -> float | None:
    """GPU memory in use on ComfyUI's device; None when it has no GPU or does not say."""
    device = gpu_device(system_stats)
    if device is None or device.get("vram_free") is None or not device["vram_total"]:
        return None
    return float(device["vram_total"] - int(device["vram_free"]))


class VramWatch:
    """`async with VramWatch(client) as watch: ...` then watch.peak (bytes, or None when never read)."""

    def __init__(self, client: Any, interval: float = INTERVAL, min_gap: float = MIN_GAP):
        self.client = client
        self.interval = interval
        self.min_gap = min_gap
        self.peak: float | None = None
        self.samples = 0
        self._wake = asyncio.Event()
        self._last = 0.0
        self._task: asyncio.Task | None = None

    def poke(self) -> None:
        """A progress message arrived: sample soon (called on the event loop)."""
        self._wake.set()

    async def sample(self) -> None:
        self._last = time.monotonic()
        try:
            used = used_bytes(await self.client.system_stats())
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError, TypeError):
            return
        if used is not None:
            self.samples += 1
            self.peak = used if self.peak is None else max(self.peak, used)

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            await asyncio.sleep(max(0.0, self._last + self.min_gap - time.monotonic()))
            await self.sample()

    async def __aenter__(self) -> "VramWatch":
        await self.sample()
        self._task = asyncio.get_running_loop().create_task(self._loop())
        return self

    async def __aexit__(self, *exc) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if exc[0] is None or not issubclass(exc[0], asyncio.CancelledError):
            await self.sample()
