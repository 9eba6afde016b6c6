"""One job, start to finish: validate against the contract, then dispatch on `kind`."""

from __future__ import annotations

from .contracts import validate_job
from .errors import StageFailure, unexpected
from .presenter.photo_job import presenter_photo_job
from .render import render
from .runtime import JobRuntime
from .training import train
from .transcription import transcribe_job


async def handle_job(data, rt: JobRuntime) -> dict:
    """The job's result, or a StageFailure (unexpected exceptions become INTERNAL of rt.stage)."""
    try:
        rt.stage = "validate"
        job = validate_job(data)
        if job["kind"] == "render":
            return await render(job, rt)
        if job["kind"] == "transcribe":
            return await transcribe_job(job, rt)
        if job["kind"] == "presenter_photo":
            return await presenter_photo_job(job, rt)
        return await train(job, rt)
    except StageFailure:
        raise
    except Exception as error:
        raise unexpected(rt.stage, error) from error
