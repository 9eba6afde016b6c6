"""Training jobs (train_voice, train_lora): GPU only. Without a GPU backend they fail with NO_GPU."""

from __future__ import annotations

import re

from .backends import TrainLoraRequest, TrainVoiceRequest
from .errors import StageFailure
from .runtime import JobRuntime


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-").lower() or "unnamed"


async def train(job: dict, rt: JobRuntime) -> dict:
    stage = job["kind"]  # "train_voice" | "train_lora", also the stage's name
    backend = rt.choose_backend(stage)
    user = job["requestedBy"]
    owner = f"users/{_slug(user['platform'])}/{_slug(user['userId'])}"
    if stage == "train_voice":
        inputs = job["sampleKeys"]
        request = TrainVoiceRequest(name=job["name"], sample_keys=tuple(inputs), out_prefix=f"{owner}/voices/{_slug(job['name'])}")
    else:
        inputs = job["imageKeys"]
        request = TrainLoraRequest(name=job["name"], image_keys=tuple(inputs), steps=job["steps"],
                                   out_prefix=f"{owner}/loras/{_slug(job['name'])}")
    missing = [key for key in inputs if not rt.storage.exists(key)]
    if missing:
        raise StageFailure(stage, "MISSING_ARTIFACT", f"{len(missing)} training file(s) are not in storage, e.g. {missing[0]}; upload them again.", False)

    async def report(percent: float, message: str) -> None:
        await rt.progress(stage, percent, percent, message, backend=backend.name)

    await rt.progress(stage, 0, 0, f"Training {job['name']!r}", backend=backend.name)
    outcome = await rt.run_stage(stage, backend, request, report)
    await rt.progress(stage, 100, 100, f"Training {job['name']!r} finished", backend=backend.name)
    # No TrainResult contract yet: report what the backend returned, plus who ran it.
    return {"kind": stage, "jobId": job["jobId"], "backend": backend.info(), **(outcome or {})}
