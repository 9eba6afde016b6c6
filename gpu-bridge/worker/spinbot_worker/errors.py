"""Stage errors as data (the StageError contract) and as instructions to the queue.

Errors cross processes, so callers match on `code`, never on exception class. Non-retryable
failures become bullmq's UnrecoverableError (no further attempts); retryable ones a plain
Exception, so the producer's attempts/backoff apply. Both carry the StageError as JSON.
"""

from __future__ import annotations

import json

from bullmq import UnrecoverableError

# Stage names and error codes, as in gpu-bridge/contracts/index.ts (StageName, ErrorCode).
STAGES = ("validate", "plan", "tts", "visuals", "lipsync", "upscale", "assemble", "train_voice", "train_lora")
RETRYABLE_BY_CODE = {
    "BAD_INPUT": False,
    "NO_GPU": False,
    "BACKEND_UNAVAILABLE": False,
    "MISSING_ARTIFACT": False,
    "OOM": True,
    "TIMEOUT": True,
    "INTERNAL": True,
    "CANCELLED": False,  # the user cancelled the job: never retried
}
MAX_MESSAGE_CHARS = 500  # StageError.message max length in the contract


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


def unexpected(stage: str, error: BaseException) -> StageFailure:
    """Wrap an exception nobody anticipated: retryable INTERNAL, blamed on the stage it hit."""
    detail = str(error) or type(error).__name__
    return StageFailure(stage, "INTERNAL", f"Unexpected error during {stage}: {type(error).__name__}: {detail}", True)
