"""GPU stage backends, each a ComfyUI workflow run through the one client.

Loaded as a backend plugin (config.py adds this module when COMFYUI_URL is set). At start the
preflight is logged, one line per workflow; afterwards a backend is available while its stage's
workflow is ready (re-checked at most every READINESS_TTL seconds, so a ComfyUI that comes up
later, or gains a model, is used without restarting the worker). With `auto` a stage whose
workflow is not ready runs on its CPU backend, and the registry names the fallback.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import math
import os
import threading
import time
from pathlib import Path

from .. import metrics
from ..backends.base import (LipsyncRequest, MotionRequest, RequestT, ResultT, StageBackend, StageContext, TtsRequest, TtsResult,
                             UpscaleRequest, VisualsRequest)
from ..config import DEFAULT_QUEUE, comfyui_url, models_dir
from ..errors import StageFailure
from ..tools import run_tool, wav_seconds
from .client import ComfyClient, RunResult
from .preflight import Readiness, choose, commercial_safe_mode, preflight
from .vram import VramWatch
from .workflows import Workflow, load_workflows

log = logging.getLogger("spinbot.comfyui")
READINESS_TTL = 30.0
# Stages a backend serves here.
BACKEND_STAGES = ("visuals", "upscale", "tts", "lipsync", "motion")
# After an OOM the retry asks for this share of the size (and frames) that failed.
OOM_SHRINK = 0.75
NEGATIVE_PROMPT = "blurry, low quality, distorted, text, watermark, signature"


def backend_id(stage: str) -> str:
    """The stage's ComfyUI backend id, as configuration and the metrics name it."""
    return f"comfyui-{stage}"


class ComfyEngine:
    """One worker's view of its ComfyUI: address, workflows, and their cached readiness."""

    def __init__(self, url: str, workflows: dict[str, Workflow], commercial_safe: bool = False,
                 choices: dict[str, str] | None = None, models_dir: Path | None = None):
        self.url = url.rstrip("/")
        self.workflows = workflows
        self.commercial_safe = commercial_safe
        self.choices = choices or {}
        self.models_dir = models_dir  # SPINBOT_MODELS_DIR: the preflight looks there for what ComfyUI cannot list
        self._results: list[Readiness] = []
        self._last_workflow: str | None = None  # what ComfyUI last ran (and so may still hold in memory)
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def refresh(self) -> list[Readiness]:
        async def check():
            async with ComfyClient(self.url, request_timeout=5) as client:
                return await preflight(client, self.workflows, self.commercial_safe, self.models_dir)

        # available() is called on the worker's event loop: the check runs on a loop of its own.
        try:
            with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
                results = pool.submit(asyncio.run, check()).result(timeout=30)
        except Exception as error:  # noqa: BLE001 - whatever went wrong, no workflow is ready until the next check
            reason = f"the ComfyUI check failed ({type(error).__name__}: {error})"
            results = [Readiness(workflow, [reason]) for workflow in self.workflows.values()]
        with self._lock:
            self._results, self._checked_at = results, time.monotonic()
        return results

    def report(self) -> list[str]:
        """The last preflight's lines (no new check: /healthz calls this and must not wait)."""
        with self._lock:
            return [r.line() for r in sorted(self._results, key=lambda r: r.workflow.stage)]

    def readiness(self, stage: str) -> Readiness | None:
        if time.monotonic() - self._checked_at > READINESS_TTL:
            self.refresh()
        return self.last_readiness(stage)

    def last_readiness(self, stage: str) -> Readiness | None:
        """The stage's workflow as the last preflight found it (no new check)."""
        with self._lock:
            return choose(self._results, stage, self.choices.get(stage))

    def run(self, graph: dict, workflow: Workflow, ctx: StageContext, stage: str,
            uploads: dict[str, Path] | None = None) -> tuple[RunResult, list[bytes]]:
        """Upload inputs (parameter -> local file), fill and run the graph, fetch the output node's files."""
        async def go():
            async with ComfyClient(self.url) as client:
                if self._last_workflow not in (None, workflow.id):
                    # Between stages, not between scenes: one model in GPU memory at a time, each loaded once per job.
                    await client.free()
                self._last_workflow = workflow.id
                values = {}
                for parameter, path in (uploads or {}).items():
                    values[parameter] = await client.upload(path, f"{ctx.job_id}-{path.name}")
                filled = workflow.fill(graph, **values)

                def progress(percent: float, message: str) -> None:
                    watch.poke()
                    ctx.report(percent * 0.95, f"{workflow.name}: {message}")

                watch = VramWatch(client)
                try:
                    async with watch:
                        result = await client.run(filled, stage=stage, cancelled=ctx.cancelled, progress=progress,
                                                  model_hints=workflow.model_hints())
                finally:  # an OOM's peak is worth seeing too
                    if watch.peak is not None:
                        metrics.record_vram_peak(stage, backend_id(stage), ctx.job_id, watch.peak)
                files = [await client.view(ref) for ref in result.files(workflow.output_node)]
                if not files:
                    raise StageFailure(stage, "INTERNAL", f"{workflow.name} finished without writing its output (node {workflow.output_node}).", True)
                return result, files

        return asyncio.run(go())


class ComfyBackend(StageBackend[RequestT, ResultT]):
    device = "gpu"
    priority = 10
    announce_fallback = True  # with 'auto', the registry names this backend when it falls back to the CPU

    def __init__(self, engine: ComfyEngine, stage: str):
        self.engine = engine
        self.stage = stage
        self.id = backend_id(stage)
        self._workflow = engine.readiness(stage).workflow  # registered only for stages that have a workflow

    @property
    def workflow(self) -> Workflow:
        readiness = self.engine.readiness(self.stage)
        if readiness is not None:
            self._workflow = readiness.workflow
        return self._workflow

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"{self._workflow.name} (ComfyUI)"

    @property
    def workflow_label(self) -> str:
        return self._workflow.name

    @property
    def licence(self) -> str:  # type: ignore[override]
        return self._workflow.licences

    @property
    def languages(self) -> tuple[str, ...] | None:  # type: ignore[override]
        return self._workflow.languages

    def available(self) -> str | None:
        readiness = self.engine.readiness(self.stage)
        if readiness is None:
            return f"no {self.stage} workflow is installed (see workflows/)"
        self._workflow = readiness.workflow
        return None if readiness.ready else f"{readiness.workflow.name} not ready: {'; '.join(readiness.problems)}"

    def info(self) -> dict:
        return {"name": self.name, "device": self.device}

    def run(self, request: RequestT, ctx: StageContext) -> ResultT:
        return self.run_workflow(self.workflow, request, ctx)

    def run_workflow(self, workflow: Workflow, request: RequestT, ctx: StageContext) -> ResultT:
        raise NotImplementedError

    @staticmethod
    def shrink(ctx: StageContext) -> float:
        """1 on the first attempt; smaller after a retry (an OOM is the usual reason to retry)."""
        return OOM_SHRINK ** max(0, ctx.attempt - 1)


class ComfyVisuals(ComfyBackend[VisualsRequest, None]):
    def run_workflow(self, workflow: Workflow, request: VisualsRequest, ctx: StageContext) -> None:
        scale = self.shrink(ctx)
        if request.lora_key:  # the user's trained style: a workflow with its base model, a LoraLoader in the graph
            from ..training.lora import apply_style, style_workflow
            workflow = style_workflow(self.engine, workflow, request.lora_base_model)
        graph = workflow.fill(prompt=request.prompt, seed=request.seed,
                              negative=NEGATIVE_PROMPT if workflow.accepts("negative") else None,
                              width=int(request.width * scale), height=int(request.height * scale))
        if request.lora_key:
            graph = apply_style(self.engine, workflow, graph, request, ctx)
        _, [png] = self.engine.run(graph, workflow, ctx, "visuals")
        # The picture may differ from the frame by a multiple's rounding or an OOM retry: upscale fits it.
        ctx.storage.put_bytes(request.out_key, png)


class ComfyUpscale(ComfyBackend[UpscaleRequest, None]):
    def run_workflow(self, workflow: Workflow, request: UpscaleRequest, ctx: StageContext) -> None:
        source = ctx.workdir / f"upscale-in-{Path(request.in_key).name}"
        ctx.storage.get_to_file(request.in_key, source)
        graph = workflow.fill(width=request.width, height=request.height)
        _, [png] = self.engine.run(graph, workflow, ctx, "upscale", {"input_image": source})
        ctx.storage.put_bytes(request.out_key, png)


class ComfyTts(ComfyBackend[TtsRequest, TtsResult]):
    def run_workflow(self, workflow: Workflow, request: TtsRequest, ctx: StageContext) -> TtsResult:
        graph = workflow.fill(text=request.text, seed=0)
        uploads = {}
        if request.reference_key and workflow.accepts("reference_voice"):
            from ..training.speaker import clean_reference_key  # the voice profile's clip, when one was built
            reference_key = clean_reference_key(ctx.storage, request.reference_key)
            reference = ctx.workdir / f"reference-{Path(reference_key).name}"
            ctx.storage.get_to_file(reference_key, reference)
            uploads["reference_voice"] = reference
        elif workflow.accepts("reference_voice"):
            graph = workflow.without(graph, "reference_voice")  # the model's own voice
        _, [audio] = self.engine.run(graph, workflow, ctx, "tts", uploads)
        made = ctx.workdir / f"tts-{ctx.job_id}-{Path(request.out_key).stem}.flac"
        made.write_bytes(audio)
        wav = ctx.workdir / f"{made.stem}.wav"
        run_tool(["ffmpeg", "-v", "error", "-y", "-i", str(made), "-ac", "1", "-ar", "24000", str(wav)], stage="tts", timeout=60)
        seconds = wav_seconds(str(wav))
        # The plan's speaking rate; and speech longer than its scene is sped up to fit (up to 1.5x; past
        # that the scene runs long).
        tempo = request.speed or 1.0
        if request.max_seconds and seconds / tempo > request.max_seconds:
            tempo = max(tempo, min(seconds / request.max_seconds, 1.5))
        if abs(tempo - 1.0) > 0.01:
            fitted = ctx.workdir / f"{made.stem}-fitted.wav"
            run_tool(["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-filter:a", f"atempo={tempo:.3f}", str(fitted)],
                     stage="tts", timeout=60)
            wav, seconds = fitted, wav_seconds(str(fitted))
        ctx.storage.put_file(request.out_key, wav)
        return TtsResult(audio_seconds=round(seconds, 3))


class ComfyLipsync(ComfyBackend[LipsyncRequest, None]):
    def run_workflow(self, workflow: Workflow, request: LipsyncRequest, ctx: StageContext) -> None:
        if request.image_key is None:
            # LatentSync needs a real face; the built-in character is drawn art, animated by the CPU presenter.
            raise StageFailure("lipsync", "BACKEND_UNAVAILABLE",
                               f"{workflow.name} lip-syncs a photo of the presenter; for the built-in character choose the CPU lip-sync.", False)
        image = ctx.workdir / f"presenter-{Path(request.image_key).name}"
        audio = ctx.workdir / f"narration-{Path(request.audio_key).name}"
        ctx.storage.get_to_file(request.image_key, image)
        ctx.storage.get_to_file(request.audio_key, audio)
        graph = workflow.fill()
        if workflow.accepts("face_x"):  # a workflow that crops the face (MuseTalk) is told where it is
            image, box = presenter_face(image)
            graph = workflow.fill(graph, **box)
        _, [frames] = self.engine.run(graph, workflow, ctx, "lipsync", {"input_image": image, "input_audio": audio})
        silent = ctx.workdir / f"lipsync-{ctx.job_id}.webm"
        silent.write_bytes(frames)
        inputs = ["-i", str(silent), "-i", str(audio)]
        w, h = request.width, request.height
        if request.layout == "corner" and request.background_key:
            # The talking head in a corner over the scene's picture (a third of the frame's height).
            background = ctx.workdir / f"background-{Path(request.background_key).name}"
            ctx.storage.get_to_file(request.background_key, background)
            inputs += ["-loop", "1", "-i", str(background)]
            size = h // 3 // 2 * 2
            video = (f"[2:v]scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h}[bg];"
                     f"[0:v]scale={size}:{size}:force_original_aspect_ratio=increase,crop={size}:{size}[head];"
                     f"[bg][head]overlay=W-w-{h // 24}:H-h-{h // 24}:shortest=1")
        else:
            video = f"[0:v]scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h}"
        # The scene may last longer than its narration: hold the last frame, pad the sound with silence.
        hold = max(0.0, (request.seconds or 0) - _media_seconds(audio))
        video += f",fps={request.fps},format=yuv420p" + (f",tpad=stop_mode=clone:stop_duration={hold:.3f}" if hold else "") + "[v]"
        audio_filter = f"[1:a]apad=pad_dur={hold:.3f}[a]" if hold else "[1:a]anull[a]"
        out = ctx.workdir / f"lipsync-{ctx.job_id}.mp4"
        # The workflow saves frames only; the narration it was synced to goes back in here.
        run_tool(["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", f"{video};{audio_filter}", "-map", "[v]", "-map", "[a]",
                  "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", "-shortest", str(out)], stage="lipsync", timeout=600)
        ctx.storage.put_file(request.out_key, out)


class ComfyMotion(ComfyBackend[MotionRequest, None]):
    # Wan 2.2 TI2V-5B makes 24 fps clips of up to 121 frames (5 s); a longer scene holds the last frame.
    FPS, MAX_FRAMES = 24, 121

    def run_workflow(self, workflow: Workflow, request: MotionRequest, ctx: StageContext) -> None:
        picture = ctx.workdir / f"motion-in-{Path(request.image_key).name}"
        ctx.storage.get_to_file(request.image_key, picture)
        scale = self.shrink(ctx)
        frames = min(self.MAX_FRAMES, int(request.seconds * self.FPS) + 1)
        graph = workflow.fill(prompt=request.prompt, seed=request.seed,
                              negative=NEGATIVE_PROMPT if workflow.accepts("negative") else None,
                              width=int(request.width * scale), height=int(request.height * scale),
                              frames=int(frames * scale) if ctx.attempt > 1 else frames, fps=self.FPS)
        _, [clip] = self.engine.run(graph, workflow, ctx, "motion", {"input_image": picture})
        made = ctx.workdir / f"motion-{ctx.job_id}-{Path(request.out_key).stem}.video"
        made.write_bytes(clip)
        w, h = request.width, request.height
        out = ctx.workdir / f"motion-{ctx.job_id}-{Path(request.out_key).stem}.mp4"
        # To the clip's frame size and rate; the scene's length, holding the last frame when the shot is shorter.
        video = (f"scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},fps=30,format=yuv420p,"
                 f"tpad=stop_mode=clone:stop_duration={request.seconds:.3f}")
        run_tool(["ffmpeg", "-v", "error", "-y", "-i", str(made), "-vf", video, "-t", f"{request.seconds:.3f}", "-an",
                  "-c:v", "libx264", "-preset", "veryfast", str(out)], stage="motion", timeout=600)
        ctx.storage.put_file(request.out_key, out)


# MuseTalk's crop (its preprocessing, on 68-point landmarks): the face's width, from the chin up as far
# above landmark 29 (the nose bridge) as the chin is below it. 195 is that point on mediapipe's mesh.
NOSE_BRIDGE = 195
CHIN_ROOM = 10  # pixels below the chin (MuseTalk 1.5's extra margin), so the jaw can open inside the box


def presenter_face(image: Path) -> tuple[Path, dict[str, int]]:
    """The presenter picture as the face detector saw it (at most WORKING_SIDE pixels a side: the box is
    in its pixels) and the face box to fill into a workflow's face_* inputs."""
    from ..presenter.portrait import PortraitRejected, analyse  # mediapipe: loaded only for this stage

    try:
        portrait = analyse(image.read_bytes())
    except PortraitRejected as error:
        raise StageFailure("lipsync", "BAD_INPUT", str(error), False) from None
    height, width = portrait.image.shape[:2]
    xs, ys = portrait.landmarks[:, 0], portrait.landmarks[:, 1]
    chin, bridge = float(ys.max()), float(portrait.landmarks[NOSE_BRIDGE, 1])
    left, right = max(0, int(xs.min())), min(width, int(math.ceil(xs.max())))
    top, bottom = max(0, int(bridge - (chin - bridge))), min(height, int(math.ceil(chin)) + CHIN_ROOM)
    checked = image.with_name(f"{image.stem}-face.png")
    checked.write_bytes(portrait.png())
    return checked, {"face_x": left, "face_y": top, "face_width": right - left, "face_height": bottom - top}


def _media_seconds(path: Path) -> float:
    done = run_tool(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)], stage="lipsync", timeout=30)
    return float(done.stdout.decode().strip() or 0)


BACKENDS = {"visuals": ComfyVisuals, "upscale": ComfyUpscale, "tts": ComfyTts, "lipsync": ComfyLipsync, "motion": ComfyMotion}


def engine_from_env(env=os.environ) -> ComfyEngine | None:
    problems: list[str] = []
    url, models = comfyui_url(env, problems), models_dir(env, problems)
    if problems:  # the worker checked these at start; the doctor command comes here directly
        raise ValueError("; ".join(problems))
    if not url:
        return None
    refused: list[str] = []
    workflows = load_workflows(refused=refused)
    choices = {}
    for stage in BACKEND_STAGES:
        variable = f"SPINBOT_{stage.upper()}_WORKFLOW"
        wanted = env.get(variable, "").strip()
        if not wanted:
            continue
        if wanted not in workflows or workflows[wanted].stage != stage:
            known = ", ".join(w.id for w in workflows.values() if w.stage == stage) or "none"
            raise ValueError(f"{variable}={wanted!r}: no {stage} workflow has that name (installed: {known}; see workflows/README.md)")
        choices[stage] = wanted
    engine = ComfyEngine(url, workflows, commercial_safe_mode(env), choices, models)
    for line in refused:
        log.warning("workflow %s", line)
    return engine


def readiness_key(queue: str) -> str:
    """Where the workers of a queue say which GPU stages are ready; bot/doctor.ts reads it (a plan's motion cap)."""
    return f"bull:{queue}:gpu-readiness"


def publish_readiness(engine: ComfyEngine, client, queue: str) -> None:
    """Each stage's chosen workflow, ready or why not, for the bot; gone 3 checks after the worker stops."""
    stages = {stage: engine.last_readiness(stage) for stage in (*BACKEND_STAGES, "train_lora")}
    summary = {stage: {"ready": r.ready, "line": r.line()} for stage, r in stages.items() if r is not None}
    client.set(readiness_key(queue), json.dumps(summary), ex=int(3 * READINESS_TTL))


def keep_publishing(engine: ComfyEngine, env=os.environ) -> None:
    """Publish now (before the worker says it is ready), then after a fresh preflight every READINESS_TTL."""
    redis_url = env.get("REDIS_URL", "").strip()
    if not redis_url:
        return
    import redis  # noqa: PLC0415 - the worker's own dependency; only needed here

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    queue = env.get("SPINBOT_QUEUE", "").strip() or DEFAULT_QUEUE

    def publish() -> None:
        try:
            publish_readiness(engine, client, queue)
        except redis.RedisError as error:  # the bot then sees no GPU stage ready until the next try
            log.warning("could not publish the GPU readiness to Redis: %s", error)

    def loop() -> None:
        while True:
            time.sleep(READINESS_TTL)
            engine.refresh()
            publish()

    publish()
    threading.Thread(target=loop, name="spinbot-gpu-readiness", daemon=True).start()


def register_backends(registry) -> None:
    """Backend plugin entry point: a GPU backend per stage that has a workflow; the preflight logged."""
    engine = engine_from_env()
    if engine is None:
        return
    engine.refresh()
    for line in engine.report():
        log.info("preflight %s", line)
    metrics.HEALTH_DETAILS["gpuWorkflows"] = engine.report
    keep_publishing(engine)
    for stage in BACKEND_STAGES:
        if any(w.stage == stage for w in engine.workflows.values()):
            registry.register(BACKENDS[stage](engine, stage))
    if any(w.stage == "train_lora" for w in engine.workflows.values()):
        from ..training.lora import ComfyTrainLora  # the training package imports this module

        registry.register(ComfyTrainLora(engine, "train_lora"))
