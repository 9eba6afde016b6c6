"""The transcribe job: what is said in a saved voice sample, stored beside it as JSON {text, language}.
Voice-cloning models need the words of their reference sample; the user sees them ("I heard: ...")."""

from __future__ import annotations

import asyncio
import json
from pathlib import PurePosixPath

from . import asr
from .errors import StageFailure
from .runtime import JobRuntime


async def transcribe_job(job: dict, rt: JobRuntime) -> dict:
    rt.stage = "transcribe"
    audio_key, transcript_key = job["audioKey"], job["transcriptKey"]
    # English-only model for English samples would be faster, but the language of a sample is rarely known.
    model_id = asr.DEFAULT_MODEL
    info = asr.asr_info(model_id)
    reason = asr.asr_available(model_id)
    if reason:
        raise StageFailure("transcribe", "BACKEND_UNAVAILABLE", f"Speech recognition cannot run: {reason}.", False)
    if not rt.storage.exists(audio_key):
        raise StageFailure("transcribe", "MISSING_ARTIFACT", f"The voice sample ({audio_key}) is not in storage; upload it again.", False)
    await rt.progress("transcribe", 0, 0, "Listening to the voice sample", backend=info["name"])
    local = rt.workdir / PurePosixPath(audio_key).name
    with rt.storage.open(audio_key) as source, open(local, "wb") as target:
        target.write(source.read())
    transcript = await asyncio.to_thread(asr.transcribe, local, model_id=model_id, language=job.get("language"))
    rt.storage.put_bytes(transcript_key, json.dumps({"text": transcript.text, "language": transcript.language,
                                                    "model": model_id}, ensure_ascii=False).encode("utf-8"))
    await rt.progress("transcribe", 100, 100, "Voice sample transcribed", backend=info["name"])
    return {"kind": "transcribe", "jobId": job["jobId"], "text": transcript.text, "language": transcript.language,
            "transcriptKey": transcript_key, "backend": {"name": info["name"], "device": info["device"]}}
