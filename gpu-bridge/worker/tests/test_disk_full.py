"""A full disk during a stage is reported as DISK_FULL (never retried), worded for the user, with
what filled up kept for the operator's log; other failures keep their code."""

from __future__ import annotations

import errno
import json

from spinbot_worker.errors import DISK_FULL_MESSAGE, StageFailure, as_disk_full, unexpected


def test_an_enospc_oserror_becomes_disk_full_with_the_path_for_the_operator():
    failure = unexpected("tts", OSError(errno.ENOSPC, "No space left on device", "/data/jobs/j1/scene-01.wav"))
    assert failure.to_dict() == {"stage": "tts", "code": "DISK_FULL", "message": DISK_FULL_MESSAGE, "retryable": False}
    assert "/data/jobs/j1/scene-01.wav" in failure.where
    # Not retried: bullmq gets an UnrecoverableError whose reason is the StageError JSON.
    error = failure.to_queue_error()
    assert type(error).__name__ == "UnrecoverableError"
    assert json.loads(str(error))["code"] == "DISK_FULL"


def test_enospc_anywhere_in_the_chain_counts():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("could not store the picture") from inner
    except RuntimeError as outer:
        assert unexpected("visuals", outer).code == "DISK_FULL"


def test_a_tool_that_says_the_disk_is_full_becomes_disk_full():
    tool = StageFailure("upscale", "INTERNAL", "ffmpeg failed (exit 1): av_interleaved_write_frame(): No space left on device", True)
    failure = as_disk_full(tool)
    assert (failure.code, failure.stage, failure.message) == ("DISK_FULL", "upscale", DISK_FULL_MESSAGE)


def test_other_failures_keep_their_code():
    assert unexpected("tts", OSError(errno.EACCES, "Permission denied")).code == "INTERNAL"
    cancelled = StageFailure("tts", "CANCELLED", "Cancelled by the user.", False)
    assert as_disk_full(cancelled) is cancelled
    bad = StageFailure("validate", "BAD_INPUT", "no words", False)
    assert as_disk_full(bad) is bad
