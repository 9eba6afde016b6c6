"""The presenter_photo job: a photo sent to be the presenter, checked and stored, or refused with one
sentence for the user and nothing stored. The upload itself is a temporary input, deleted either way."""

from __future__ import annotations

import asyncio

from ..errors import StageFailure
from ..runtime import JobRuntime
from .portrait import PortraitRejected
from .backend import store_portrait

FINDER = {"name": "mediapipe face detection + face mesh (CPU)", "device": "cpu"}


async def presenter_photo_job(job: dict, rt: JobRuntime) -> dict:
    rt.stage = "lipsync"
    image_key, presenter_key = job["imageKey"], job["presenterKey"]
    if not rt.storage.exists(image_key):
        raise StageFailure("lipsync", "MISSING_ARTIFACT", f"The photo ({image_key}) is not in storage; send it again.", False)
    await rt.progress("lipsync", 0, 0, "Looking for the face in the photo", backend=FINDER["name"])
    try:
        with rt.storage.open(image_key) as stream:
            data = stream.read()
        portrait = await asyncio.to_thread(store_portrait, rt.storage, presenter_key, data)
    except PortraitRejected as rejected:
        raise StageFailure("lipsync", "BAD_INPUT", str(rejected), False) from None
    finally:
        rt.storage.delete(image_key)
    await rt.progress("lipsync", 100, 100, "The presenter's face is ready", backend=FINDER["name"])
    return {"kind": "presenter_photo", "jobId": job["jobId"], "presenterKey": presenter_key,
            "facesFound": portrait.faces_found, "note": portrait.note, "backend": FINDER}
