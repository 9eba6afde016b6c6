"""The render job: narration (tts), pictures (visuals) and upscale for every scene, into storage."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict

from . import metrics
from .backends import TtsRequest, TtsResult, UpscaleRequest, VisualsRequest
from .errors import StageFailure
from .runtime import JobRuntime
from .scene_video import render_scene_videos
from .storage import Storage, scene_key
from .tools import wav_seconds

PIPELINE = ("tts", "visuals", "upscale")
FRAME_W, FRAME_H = 1280, 720
# Frame size per plan aspect: mirrors FRAME_SIZES in gpu-bridge/contracts/index.ts.
FRAME_SIZES = {"16:9": (1280, 720), "9:16": (720, 1280), "1:1": (720, 720)}
STEP_MESSAGES = {
    "tts": "Scene {n}/{count}: recording the narration",
    "visuals": "Scene {n}/{count}: drawing the picture",
    "upscale": "Scene {n}/{count}: sizing the picture to {width}x{height}",
}


async def render(job: dict, rt: JobRuntime) -> dict:
    job_id, plan = job["jobId"], job["plan"]
    scenes = plan["scenes"]
    count = len(scenes)
    requested = job.get("backends") or {}
    # Choose every backend first: a job that cannot run fails before anything is written.
    # Narration by the plan's language: Piper for English, espeak-ng for the languages Piper lacks.
    backends = {stage: rt.choose_backend(stage, requested.get(stage, "auto"), plan["language"] if stage == "tts" else None)
                for stage in PIPELINE}
    _check_inputs(job, rt.storage)

    rt.stage = "validate"
    kept = _reusable_scenes(job, rt.storage)  # index -> audioSeconds
    todo = [i for i in range(count) if i not in kept]
    summary = f"Rendering {len(todo)} of {count} scenes" + (f", keeping {len(kept)} from the last render" if kept else "")
    await rt.progress("validate", 100, 0, summary, sceneCount=count)

    timings = {stage: 0.0 for stage in PIPELINE}
    audio_seconds = dict(kept)
    # When each sentence is heard, per scene: the subtitles are timed to it.
    sentences = {index: _stored_sentences(job_id, index, rt.storage) for index in kept}
    steps_total, steps_done = len(todo) * len(PIPELINE), 0
    # Stage by stage over all scenes, not scene by scene: a GPU backend then loads its model
    # once per job (one model in memory at a time), and each stage's progress runs 0 -> 100 once.
    requests = {index: _scene_requests(job, index, count) for index in todo}
    width, height = FRAME_SIZES.get(job["plan"].get("aspect", "16:9"), (FRAME_W, FRAME_H))
    written: list[str] = []  # keys this attempt stored, removed again when the job is cancelled

    def remove_partial_artifacts() -> None:
        for key in written + [_work_key(job_id, index) for index in todo]:
            rt.storage.delete(key)

    for stage in PIPELINE:
        backend = backends[stage]
        for position, index in enumerate(todo):
            number = index + 1

            async def report(percent: float, message: str, stage=stage, backend=backend, done=steps_done,
                             position=position, number=number):
                # A backend's finer progress within this scene's step.
                fraction = min(max(percent, 0), 100) / 100
                await rt.progress(stage, (position + fraction) / len(todo) * 100,
                                  (done + fraction) / steps_total * 100, message,
                                  scene=number, sceneCount=count, backend=backend.name)

            await rt.check_cancelled(stage, remove_partial_artifacts)
            await rt.progress(stage, position / len(todo) * 100, steps_done / steps_total * 100,
                              STEP_MESSAGES[stage].format(n=number, count=count, width=width, height=height),
                              scene=number, sceneCount=count, backend=backend.name)
            started = time.monotonic()
            try:
                outcome = await rt.run_stage(stage, backend, requests[index][stage], report)
            except StageFailure as failure:
                if failure.code == "CANCELLED":  # a step that stopped midway (a ComfyUI workflow interrupted)
                    await rt.check_cancelled(stage, remove_partial_artifacts)
                raise
            written.append(requests[index][stage].out_key)
            timings[stage] += time.monotonic() - started
            steps_done += 1
            if stage == "tts":
                if not isinstance(outcome, TtsResult):
                    raise StageFailure("tts", "INTERNAL", f"{backend.name} returned no audio length.", True)
                audio_seconds[index] = outcome.audio_seconds
                sentences[index] = [asdict(sentence) for sentence in outcome.sentences]
                # Beside the audio, for a later render that keeps this scene.
                rt.storage.put_bytes(_sentences_key(job_id, index), json.dumps(sentences[index]).encode("utf-8"))
                written.append(_sentences_key(job_id, index))
        await rt.progress(stage, 100, steps_done / steps_total * 100 if steps_total else 100,
                          f"{len(todo)} of {count} scenes done", sceneCount=count, backend=backend.name)
        if todo:  # all scenes kept from the last render: nothing was timed
            metrics.record_stage(stage, backend.id, timings[stage])
    for index in todo:
        rt.storage.delete(_work_key(job_id, index))
    # The presenter and motion scenes as videos, made from the narration and pictures above.
    videos, video_backends, video_timings = await render_scene_videos(job, rt, todo, width, height, written)
    timings.update(video_timings)

    results = {stage: backend.info() for stage, backend in backends.items()}
    reference_key = plan["voice"].get("referenceKey")
    if reference_key and backends["tts"].device == "gpu" and todo:
        # Clone check: a narration that sounds unlike the saved voice says so in the result line.
        from .training.speaker import clone_check_note
        note = await asyncio.to_thread(clone_check_note, rt.storage, reference_key, [scene_key(job_id, i, "wav") for i in todo], rt.workdir)
        if note:
            results["tts"] = {**results["tts"], "name": f"{results['tts']['name']}; {note}"}

    return {
        "kind": "render",
        "jobId": job_id,
        "scenes": [
            {
                "index": i,
                "audioKey": scene_key(job_id, i, "wav"),
                "imageKey": scene_key(job_id, i, "png"),
                "audioSeconds": audio_seconds[i],
                "sentences": sentences.get(i, []),
                "seconds": scenes[i]["seconds"],
                "reused": i in kept,
                **({"videoKey": videos[i]} if i in videos else {}),
            }
            for i in range(count)
        ],
        "backends": {**results, **video_backends},
        "timings": {stage: round(seconds, 3) for stage, seconds in timings.items()},
    }


def _sentences_key(job_id: str, index: int) -> str:
    return scene_key(job_id, index, "sentences.json")


def _stored_sentences(job_id: str, index: int, storage: Storage) -> list[dict]:
    """A kept scene's sentence timings; none (subtitles then estimated) when missing or unreadable."""
    try:
        with storage.open(_sentences_key(job_id, index)) as stream:
            return [{"text": s["text"], "start": float(s["start"]), "end": float(s["end"])} for s in json.load(stream)]
    except Exception:
        return []


def _work_key(job_id: str, index: int) -> str:
    """The picture between the visuals and upscale stages; deleted once the scene is upscaled."""
    return f"jobs/{job_id}/work/scene-{index + 1:02d}-visual.png"


def _scene_requests(job: dict, index: int, count: int) -> dict:
    """What each stage is asked to do for one scene."""
    job_id, plan = job["jobId"], job["plan"]
    scene, number = plan["scenes"][index], index + 1
    work_key = _work_key(job_id, index)
    width, height = FRAME_SIZES.get(plan.get("aspect", "16:9"), (FRAME_W, FRAME_H))
    style = plan.get("style") or ""
    # The style belongs to every picture (a GPU model reads it from the prompt).
    prompt = f'{scene["visualPrompt"]}, {style} style' if style else scene["visualPrompt"]
    return {
        "tts": TtsRequest(
            text=scene["narration"], language=plan["language"], voice_engine=plan["voice"]["engine"],
            voice_id=plan["voice"]["id"], speed=plan["voice"]["speed"],
            reference_key=plan["voice"].get("referenceKey"), max_seconds=scene["seconds"],
            out_key=scene_key(job_id, index, "wav")),
        "visuals": VisualsRequest(
            prompt=prompt, seed=job["seed"],
            # Scene 1 without its own text opens with the title.
            text=scene["onScreenText"] or (plan["title"] if index == 0 else ""),
            scene=number, scene_count=count, width=width, height=height,
            reference_image_key=job.get("referenceImageKey"), out_key=work_key,
            lora_key=(job.get("style") or {}).get("loraKey"), lora_base_model=(job.get("style") or {}).get("baseModel", ""),
            lora_trigger=(job.get("style") or {}).get("trigger", "")),
        "upscale": UpscaleRequest(in_key=work_key, out_key=scene_key(job_id, index, "png"),
                                  width=width, height=height),
    }


def _check_inputs(job: dict, storage: Storage) -> None:
    inputs = [("visuals", "reference image", job.get("referenceImageKey")),
              ("tts", "reference voice sample", job["plan"]["voice"].get("referenceKey"))]
    for stage, what, key in inputs:
        if key and not storage.exists(key):
            raise StageFailure(stage, "MISSING_ARTIFACT", f"The {what} ({key}) is not in storage; upload it again.", False)


def _reusable_scenes(job: dict, storage: Storage) -> dict[int, float]:
    """Scenes the job asks to keep whose audio and picture are both still stored."""
    kept = {}
    for index in sorted(set(job.get("reuseScenes") or [])):
        if index >= len(job["plan"]["scenes"]):
            continue
        audio, image = scene_key(job["jobId"], index, "wav"), scene_key(job["jobId"], index, "png")
        if not storage.exists(image):
            continue
        try:
            with storage.open(audio) as stream:
                kept[index] = round(wav_seconds(stream), 3)
        except Exception:  # missing or unreadable: render the scene again
            continue
    return kept
