"""Training jobs. train_voice builds a voice profile on any machine (training/voice_profile.py);
train_lora trains a style LoRA on a GPU backend (a ComfyUI training workflow), and without one
fails with NO_GPU. Both return a TrainResult (gpu-bridge/contracts: train-result), checked here."""

from __future__ import annotations

import asyncio
import re
from pathlib import PurePosixPath

from .. import asr
from ..backends import TrainLoraRequest
from ..contracts import schema_errors
from ..errors import StageFailure
from ..runtime import JobRuntime
from . import denoise, speaker, voice_profile


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-").lower() or "unnamed"


def owner_prefix(job: dict) -> str:
    user = job["requestedBy"]
    return f"users/{slug(user['platform'])}/{slug(user['userId'])}"


def checked_result(stage: str, result: dict) -> dict:
    """The result if it matches the TrainResult contract; a worker bug (INTERNAL) otherwise."""
    problems = schema_errors("train-result", result)
    if problems:
        raise StageFailure(stage, "INTERNAL", f"The training result does not match its contract: {'; '.join(problems[:3])}", False)
    return result


def _missing(rt: JobRuntime, stage: str, keys: list[str]) -> None:
    missing = [key for key in keys if not rt.storage.exists(key)]
    if missing:
        raise StageFailure(stage, "MISSING_ARTIFACT", f"{len(missing)} training file(s) are not in storage, e.g. {missing[0]}; upload them again.", False)


async def train(job: dict, rt: JobRuntime) -> dict:
    stage = job["kind"]  # "train_voice" | "train_lora", also the stage's name
    rt.stage = stage
    if stage == "train_voice":
        return checked_result(stage, await train_voice(job, rt))
    return checked_result(stage, await train_lora(job, rt))


async def train_voice(job: dict, rt: JobRuntime) -> dict:
    stage = "train_voice"
    for reason in (denoise.denoiser_available(), asr.asr_available()):
        if reason:
            raise StageFailure(stage, "BACKEND_UNAVAILABLE", f"A voice profile cannot be built here: {reason}.", False)
    _missing(rt, stage, job["sampleKeys"])
    backends = {"denoise": denoise.denoiser_info(), "transcribe": asr.asr_info()}
    if speaker.encoder_available() is None:
        backends["embedding"] = speaker.encoder_info()
    backends = {step: {"name": info["name"], "device": info["device"]} for step, info in backends.items()}
    loop = asyncio.get_running_loop()

    def report(percent: float, message: str) -> None:
        asyncio.run_coroutine_threadsafe(rt.progress(stage, percent, percent, message, backend=backends["denoise"]["name"]), loop)

    local = []
    for n, key in enumerate(job["sampleKeys"]):
        path = rt.workdir / f"sample-{n:02d}{PurePosixPath(key).suffix or '.wav'}"
        rt.storage.get_to_file(key, path)
        local.append((key, path))
    await rt.progress(stage, 0, 0, f"Building the voice profile {job['name']!r}", backend=backends["denoise"]["name"])
    profile = await asyncio.to_thread(voice_profile.build_profile, local, rt.workdir, None, report)
    await rt.check_cancelled(stage)
    prefix = f"{owner_prefix(job)}/voices/{slug(job['name'])}"
    reference_key = f"{prefix}/reference.wav"
    if profile.reference_wav is None:
        raise StageFailure(stage, "BAD_INPUT", profile.note or "No usable speech was found in the voice samples.", False)
    rt.storage.put_file(reference_key, profile.reference_wav)
    profile_key = f"{prefix}/profile.json"
    rt.storage.put_bytes(profile_key, voice_profile.profile_json(profile.document(job["name"], reference_key, backends)))
    await rt.progress(stage, 100, 100, f"Voice profile {job['name']!r} ready", backend=backends["denoise"]["name"])
    return {
        "kind": stage, "jobId": job["jobId"], "profileKey": profile_key, "referenceKey": reference_key,
        "referenceText": profile.reference.text, "referenceSeconds": profile.reference.seconds, "language": profile.language,
        "samples": [{"key": s.key, "speechSeconds": s.speech_seconds, "snrBeforeDb": s.snr_before_db, "snrAfterDb": s.snr_after_db}
                    for s in profile.samples],
        "cleanSpeechSeconds": profile.clean_speech_seconds, "enough": profile.enough,
        "embedding": profile.embedding is not None, "note": profile.note, "backends": backends,
    }


async def train_lora(job: dict, rt: JobRuntime) -> dict:
    stage = "train_lora"
    backend = rt.choose_backend(stage)
    _missing(rt, stage, job["imageKeys"])
    name = slug(job["name"])
    request = TrainLoraRequest(name=job["name"], image_keys=tuple(job["imageKeys"]), steps=job["steps"],
                               out_prefix=f"{owner_prefix(job)}/loras/{name}", caption=job.get("caption") or "")

    async def report(percent: float, message: str) -> None:
        await rt.progress(stage, percent, percent, message, backend=backend.name)

    await rt.progress(stage, 0, 0, f"Training the style {job['name']!r}", backend=backend.name)
    outcome = await rt.run_stage(stage, backend, request, report)
    await rt.progress(stage, 100, 100, f"Style {job['name']!r} trained", backend=backend.name)
    return {"kind": stage, "jobId": job["jobId"], "backend": backend.info(), **outcome}
