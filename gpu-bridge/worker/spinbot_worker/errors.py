"""Stage errors as data (the StageError contract) and as instructions to the queue.

Errors cross processes, so callers match on `code`, never on exception class. Non-retryable
failures become bullmq's UnrecoverableError (no further attempts); retryable ones a plain
Exception, so the producer's attempts/backoff apply. Both carry the StageError as JSON.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path

from bullmq import UnrecoverableError

# Stage names, error codes and the message limit come from the generated StageError schema
# (gpu-bridge/contracts/index.ts is their one source); read directly, as contracts.py imports this module.
_STAGE_ERROR = json.loads((Path(__file__).resolve().parents[2] / "contracts" / "schema" / "stage-error.schema.json")
                          .read_text(encoding="utf-8"))["properties"]
STAGES = tuple(_STAGE_ERROR["stage"]["enum"])
ERROR_CODES = tuple(_STAGE_ERROR["code"]["enum"])
# Whether each code is retried by default: the one thing the contract leaves to the worker.
RETRYABLE_BY_CODE = {
    "BAD_INPUT": False,
    "NO_GPU": False,
    "BACKEND_UNAVAILABLE": False,
    "MISSING_ARTIFACT": False,
    "OOM": True,
    "TIMEOUT": True,
    "INTERNAL": True,
    "CANCELLED": False,  # the user cancelled the job: never retried
    "DISK_FULL": False,  # retrying within seconds cannot help: the operator has to free space
}
MAX_MESSAGE_CHARS = _STAGE_ERROR["message"]["maxLength"]


class StageFailure(Exception):
    """A stage failed in a way the chat can explain: {stage, code, message, retryable}."""

    def __init__(self, stage: str, code: str, message: str, retryable: bool | None = None):
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        if code not in RETRYABLE_BY_CODE:
            raise ValueError(f"unknown error code {code!r}")
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[: MAX_MESSAGE_CHARS - 3] + "..."
        self.stage = stage
        self.code = code
        self.message = message
        self.retryable = RETRYABLE_BY_CODE[code] if retryable is None else retryable
        super().__init__(message)

    def to_dict(self) -> dict:
        return {"stage": self.stage, "code": self.code, "message": self.message, "retryable": self.retryable}

    def to_queue_error(self) -> Exception:
        """The exception to raise from the bullmq processor; failedReason is the StageError JSON."""
        reason = json.dumps(self.to_dict())
        return Exception(reason) if self.retryable else UnrecoverableError(reason)


DISK_FULL_MESSAGE = "The server is out of disk space; the operator has been told."
# strerror(ENOSPC), as tools (ffmpeg, espeak-ng) print it on stderr: their failures carry only text.
_ENOSPC_TEXT = "No space left on device"


def _disk_full_cause(error: BaseException | None) -> BaseException | None:
    """The OSError ENOSPC (or a tool's failure that reports one) in the exception's chain."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            return error
        if _ENOSPC_TEXT in str(error):
            return error
        error = error.__cause__ or error.__context__
    return None


class DiskFull(StageFailure):
    """DISK_FULL, worded for the user; `where` (the path or tool output) is for the operator's log."""

    def __init__(self, stage: str, where: str):
        super().__init__(stage, "DISK_FULL", DISK_FULL_MESSAGE, retryable=False)
        self.where = where


def _disk_full(stage: str, cause: BaseException) -> DiskFull:
    if isinstance(cause, OSError) and cause.filename:
        return DiskFull(stage, f"writing {cause.filename}")
    return DiskFull(stage, str(cause)[-200:])


def as_disk_full(failure: StageFailure) -> StageFailure:
    """A failure caused by a full disk (anywhere in its chain) becomes DISK_FULL; others are kept."""
    if failure.code in ("DISK_FULL", "CANCELLED"):
        return failure
    cause = _disk_full_cause(failure)
    return _disk_full(failure.stage, cause) if cause is not None else failure


def unexpected(stage: str, error: BaseException) -> StageFailure:
    """Wrap an exception nobody anticipated: retryable INTERNAL, blamed on the stage it hit (or
    DISK_FULL when the disk filled up)."""
    cause = _disk_full_cause(error)
    if cause is not None:
        return _disk_full(stage, cause)
    detail = str(error) or type(error).__name__
    return StageFailure(stage, "INTERNAL", f"Unexpected error during {stage}: {type(error).__name__}: {detail}", True)
