"""Scenes as videos, after narration and pictures: the presenter speaking (lipsync) and moving pictures
(motion). Assembly uses a scene's video instead of its still.

Motion needs an image-to-video workflow on a GPU; without one a motion scene stays a still with the
assembly's slow pan, and the result line says so. How many scenes may move is capped by a setting
sized to the GPU's time budget (SPINBOT_MAX_MOTION_SCENES), never by the plan.
"""

from __future__ import annotations

import os
import time

from . import metrics
from .backends.base import LipsyncRequest, MotionRequest
from .errors import StageFailure
from .runtime import JobRuntime
from .storage import scene_key

# Motion clips per video: Wan 2.2 TI2V-5B takes ~70 s per 5 s shot on a 16 GB card (BENCHMARKS.md),
# so two keep a 30 s clip's GPU time near the 90 s goal.
DEFAULT_MAX_MOTION_SCENES = 2
STILL_INSTEAD = "still picture with a slow pan (CPU; no motion workflow ready)"
MESSAGES = {
    "lipsync": "Scene {n}/{count}: the presenter speaks",
    "motion": "Scene {n}/{count}: bringing the picture to life",
}


def max_motion_scenes(env=os.environ) -> int:
    raw = env.get("SPINBOT_MAX_MOTION_SCENES", "").strip()
    try:
        return max(0, int(raw)) if raw else DEFAULT_MAX_MOTION_SCENES
    except ValueError:
        raise ValueError(f"SPINBOT_MAX_MOTION_SCENES={raw!r}: a whole number of scenes, e.g. 2") from None


def video_key(job_id: str, index: int) -> str:
    return scene_key(job_id, index, "mp4")


def planned_videos(plan: dict) -> tuple[list[int], list[int]]:
    """Scene indexes with the presenter, and those asked to move (a presenter scene does not also move)."""
    presenter = [i for i, scene in enumerate(plan["scenes"]) if scene.get("presenter", "none") != "none"]
    motion = [i for i, scene in enumerate(plan["scenes"]) if scene.get("motion") and i not in presenter]
    return presenter, motion


async def render_scene_videos(job: dict, rt: JobRuntime, todo: list[int], width: int, height: int,
                              written: list[str]) -> tuple[dict[int, str], dict[str, dict], dict[str, float]]:
    """Renders the scene videos the plan asks for; returns {index: videoKey}, the backends' result-line
    entries and seconds per stage. Kept scenes keep their stored video (the key is the job's; nothing to copy)."""
    job_id, plan = job["jobId"], job["plan"]
    scenes, count = plan["scenes"], len(plan["scenes"])
    requested = job.get("backends") or {}
    presenter, motion = planned_videos(plan)
    videos: dict[int, str] = {}
    infos: dict[str, dict] = {}
    timings: dict[str, float] = {}
    work: list[tuple[str, int]] = []

    def plan_stage(stage: str, indexes: list[int]):
        for index in indexes:
            if index not in todo and rt.storage.exists(video_key(job_id, index)):
                videos[index] = video_key(job_id, index)  # reused scene: its video is still stored
            else:
                work.append((stage, index))

    if presenter:
        choice = requested.get("lipsync", "auto")
        if choice == "auto" and not plan.get("presenterKey"):
            choice = "cpu"  # the built-in character is drawn art: the GPU workflows lip-sync photos only
        lipsync = rt.choose_backend("lipsync", choice)
        infos["lipsync"] = lipsync.info()
        plan_stage("lipsync", presenter)
    motion_backend = None
    if motion:
        cap = max_motion_scenes()
        try:
            motion_backend = rt.choose_backend("motion", requested.get("motion", "auto")) if cap > 0 else None
        except StageFailure:
            if requested.get("motion", "auto") == "gpu":
                raise
        if motion_backend is None:
            # On CPU (or with the cap at 0) the pictures stay stills and assembly pans them.
            infos["motion"] = {"name": STILL_INSTEAD if cap > 0 else "still picture with a slow pan (motion limited to 0 scenes)",
                               "device": "cpu"}
        else:
            infos["motion"] = motion_backend.info()
            if len(motion) > cap:
                infos["motion"] = {**infos["motion"], "name": f"{infos['motion']['name']}; {cap} of {len(motion)} scenes moved (limit)"}
            plan_stage("motion", motion[:cap])

    for position, (stage, index) in enumerate(work):
        backend = lipsync if stage == "lipsync" else motion_backend
        number, scene = index + 1, scenes[index]
        await rt.check_cancelled(stage, lambda: [rt.storage.delete(key) for key in written])
        await rt.progress(stage, position / len(work) * 100, 100, MESSAGES[stage].format(n=number, count=count),
                          scene=number, sceneCount=count, backend=backend.name)

        async def report(percent: float, message: str, stage=stage, position=position, number=number, backend=backend):
            await rt.progress(stage, (position + min(max(percent, 0), 100) / 100) / len(work) * 100, 100, message,
                              scene=number, sceneCount=count, backend=backend.name)

        out_key = video_key(job_id, index)
        if stage == "lipsync":
            layout = scene["presenter"]
            request = LipsyncRequest(image_key=plan.get("presenterKey"), audio_key=scene_key(job_id, index, "wav"),
                                     out_key=out_key, width=width, height=height, fps=30, layout=layout,
                                     background_key=scene_key(job_id, index, "png") if layout == "corner" else None,
                                     seconds=scene["seconds"])
        else:
            request = MotionRequest(image_key=scene_key(job_id, index, "png"), prompt=scene["visualPrompt"],
                                    seed=job.get("seed", 0), width=width, height=height, seconds=scene["seconds"],
                                    out_key=out_key)
        started = time.monotonic()
        await rt.run_stage(stage, backend, request, report)
        seconds = time.monotonic() - started
        metrics.record_stage(stage, backend.id, seconds)
        timings[stage] = timings.get(stage, 0.0) + seconds
        written.append(out_key)
        videos[index] = out_key
    return videos, infos, timings
