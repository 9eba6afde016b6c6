"""What one job runs with: storage, backend choice, a scratch folder, progress, stage tracking."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Protocol

from .backends import BackendRegistry, StageBackend, StageContext
from .backends.base import check_request
from .errors import StageFailure, unexpected
from .storage import Storage

ProgressSink = Callable[[dict], Awaitable[Any]]
CANCELLED_MESSAGE = "Cancelled by the user."


class CancelFlag(Protocol):
    """Whether the user asked to stop this job (the producer's cancel key for an active job)."""

    async def is_set(self) -> bool: ...

    async def clear(self) -> None: ...


@dataclass
class JobRuntime:
    job_id: str
    storage: Storage
    registry: BackendRegistry
    workdir: Path
    send_progress: ProgressSink
    attempt: int = 1
    operator_choices: dict[str, str] = field(default_factory=dict)  # from SPINBOT_*_BACKEND
    stage: str = "validate"  # the stage under way: blamed for errors nobody anticipated
    cancel_flag: CancelFlag | None = None  # None: this job cannot be cancelled while it runs

    def choose_backend(self, stage: str, requested: str = "auto", language: str | None = None) -> StageBackend:
        """The operator's setting wins when it is not 'auto' (e.g. a pinned or test backend);
        otherwise the job's own request (auto|cpu|gpu). language: narration's, see registry.select."""
        self.stage = stage
        operator = self.operator_choices.get(stage, "auto")
        return self.registry.select(stage, operator if operator != "auto" else requested, language)

    async def progress(self, stage: str, percent: float, overall: float, message: str, **extra) -> None:
        event = {"stage": stage, "percent": _pct(percent), "overall": _pct(overall), "message": message[:200]}
        event.update({k: v for k, v in extra.items() if v is not None})
        if "backend" in event:
            event["backend"] = event["backend"][:80]
        await self.send_progress(event)

    async def check_cancelled(self, stage: str, clean_up: Callable[[], None] | None = None) -> None:
        """Between steps: when the user cancelled the job, clean up (the caller's partial
        artifacts), clear the flag and fail with CANCELLED, which is never retried."""
        if self.cancel_flag is None or not await self.cancel_flag.is_set():
            return
        self.stage = stage
        if clean_up is not None:
            clean_up()
        await self.cancel_flag.clear()
        raise StageFailure(stage, "CANCELLED", CANCELLED_MESSAGE, retryable=False)

    async def run_stage(self, stage: str, backend: StageBackend, request: Any,
                        report: Callable[[float, str], Awaitable[None]] | None = None) -> Any:
        """backend.run in a thread (the event loop keeps renewing the job's lock meanwhile)."""
        self.stage = stage
        mismatch = check_request(stage, backend, request)
        if mismatch:  # a wiring mistake, not the user's: fail before the backend reads a field it lacks
            raise StageFailure(stage, "INTERNAL", mismatch, False)
        loop = asyncio.get_running_loop()

        def report_from_thread(percent: float, message: str) -> None:
            if report is not None:
                asyncio.run_coroutine_threadsafe(report(percent, message), loop)

        def cancelled_from_thread() -> bool:
            if self.cancel_flag is None:
                return False
            return asyncio.run_coroutine_threadsafe(self.cancel_flag.is_set(), loop).result(timeout=10)

        ctx = StageContext(job_id=self.job_id, attempt=self.attempt, storage=self.storage,
                           workdir=self.workdir, report=report_from_thread, cancelled=cancelled_from_thread)
        try:
            return await asyncio.to_thread(backend.run, request, ctx)
        except StageFailure:
            raise
        except Exception as error:
            raise unexpected(stage, error) from error


def _pct(value: float) -> float:
    return round(min(100.0, max(0.0, float(value))), 1)
