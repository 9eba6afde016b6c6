"""Style LoRA training on the GPU: a ComfyUI training workflow (workflows/train-*) run through the
one client. The user's pictures, cropped around their subject (training/crop.py), go into an input
subfolder with a caption .txt beside each; the workflow's SaveLoRA writes
output/loras/<prefix>_00001_.safetensors, which /history does not list, so the file is fetched from
there by name and stored under the user's namespace. The loss per step reaches /history through a
PreviewAny node (the loss map as JSON text) and a LossGraphNode (its curve as a picture)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from PIL import Image

from ..backends.base import StageContext, TrainLoraRequest
from ..comfyui.backends import ComfyBackend
from ..comfyui.client import ComfyClient, FileRef, RunResult
from ..errors import StageFailure
from .crop import TRAIN_SIDE, crop_for_training

MIN_IMAGES, MAX_IMAGES = 8, 40
MIN_SIDE = 512  # smaller pictures teach the model blur
MAX_PIXELS = 40_000_000  # checked from the header, before decoding (a decompression bomb stops here)


def trigger_word(name: str) -> str:
    """The word each caption starts with; a prompt that uses the style carries it."""
    return "spinstyle_" + "".join(ch for ch in name.lower() if ch.isalnum())[:24]


def check_images(paths: list[Path], stage: str = "train_lora") -> None:
    """The worker's own check of the set (the chat checks it first): a refusal stores nothing."""
    if not MIN_IMAGES <= len(paths) <= MAX_IMAGES:
        raise StageFailure(stage, "BAD_INPUT", f"A style needs {MIN_IMAGES} to {MAX_IMAGES} pictures; {len(paths)} were given.", False)
    for path in paths:
        try:
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise StageFailure(stage, "BAD_INPUT", f"{path.name} is {width}x{height}, more than {MAX_PIXELS // 1_000_000} megapixels.", False)
                image.verify()
        except StageFailure:
            raise
        except Image.DecompressionBombError as error:  # Pillow's own guard, at twice its default limit
            raise StageFailure(stage, "BAD_INPUT", f"{path.name} declares far more than {MAX_PIXELS // 1_000_000} megapixels.", False) from error
        except Exception as error:  # noqa: BLE001 - whatever Pillow says, it is not a picture we can train on
            raise StageFailure(stage, "BAD_INPUT", f"{path.name} is not a picture ({type(error).__name__}).", False) from error
        if min(width, height) < MIN_SIDE:
            raise StageFailure(stage, "BAD_INPUT", f"{path.name} is {width}x{height}; pictures need at least {MIN_SIDE} px on each side.", False)


class ComfyTrainLora(ComfyBackend):
    def run_workflow(self, workflow, request: TrainLoraRequest, ctx: StageContext) -> dict:
        stage = "train_lora"
        trigger = trigger_word(request.name)
        caption = f"{trigger} style" + (f", {request.caption.strip()}" if request.caption.strip() else "")
        local = []
        for n, key in enumerate(request.image_keys):
            path = ctx.workdir / f"{n + 1:02d}{Path(key).suffix.lower() or '.png'}"
            ctx.storage.get_to_file(key, path)
            local.append(path)
        check_images(local)
        # Uploaded instead of the originals: square, at the training size, around each picture's subject.
        cropped = [ctx.workdir / "cropped" / f"{path.stem}.png" for path in local]
        crops = [crop_for_training(source, dest) for source, dest in zip(local, cropped)]
        faces = sum(crop.around == "face" for crop in crops)
        ctx.report(1, f"{len(cropped)} pictures cropped to {TRAIN_SIDE}x{TRAIN_SIDE} ({faces} around a face, "
                      f"{len(cropped) - faces} around their most detailed part)")
        folder = f"spinbot-train-{ctx.job_id}-{ctx.attempt}"
        prefix = f"loras/{folder}"
        graph = workflow.fill(dataset=folder, steps=request.steps, seed=0, output_prefix=prefix)
        started = time.monotonic()

        def progress(percent: float, message: str) -> None:
            elapsed = time.monotonic() - started
            eta = f", about {int(elapsed * (100 - percent) / percent)} s left" if percent >= 2 else ""
            step = int(request.steps * percent / 100)
            ctx.report(percent * 0.95, f"{workflow.name}: step {step} of {request.steps}{eta}")

        async def go() -> tuple[bytes, list[float], bytes | None]:
            async with ComfyClient(self.engine.url) as client:
                await client.free()  # training needs the whole card
                for path in cropped:
                    await client.upload(path, path.name, subfolder=folder)
                    caption_file = path.with_suffix(".txt")
                    caption_file.write_text(caption, encoding="utf-8")
                    await client.upload(caption_file, caption_file.name, subfolder=folder)
                run = await client.run(graph, stage=stage, cancelled=ctx.cancelled, progress=progress,
                                       model_hints=workflow.model_hints(), timeout=4 * 3600)
                # SaveLoRA's name: its prefix, ComfyUI's 5-digit counter (1: the prefix is new), "_.safetensors".
                lora = await client.view(FileRef(f"{folder}_00001_.safetensors", "loras", "output"))
                graph_refs = _files_of(run, graph, "LossGraphNode")
                return lora, loss_history(run, graph), (await client.view(graph_refs[0]) if graph_refs else None)

        lora, losses, loss_graph = asyncio.run(go())
        if not lora:
            raise StageFailure(stage, "INTERNAL", f"{workflow.name} finished without saving the LoRA.", True)
        base_model = next((m.file for m in workflow.models if m.folder == "checkpoints"), workflow.models[0].file if workflow.models else workflow.id)
        lora_key = f"{request.out_prefix}.safetensors"
        ctx.storage.put_bytes(lora_key, lora)
        ctx.storage.put_bytes(f"{request.out_prefix}.json", json.dumps({
            "name": request.name, "baseModel": base_model, "workflow": workflow.id, "trigger": trigger,
            "images": len(local), "steps": request.steps, "caption": caption}).encode("utf-8"))
        outcome = {"loraKey": lora_key, "baseModel": base_model, "trigger": trigger, "images": len(local),
                   "steps": request.steps, "finalLoss": final_loss(losses)}
        if loss_graph:
            outcome["lossGraphKey"] = f"{request.out_prefix}-loss.png"
            ctx.storage.put_bytes(outcome["lossGraphKey"], loss_graph)
        # The pictures were only the training's input: once the style is stored they go (a failed or
        # interrupted training keeps them, so its retry can run).
        for key in request.image_keys:
            ctx.storage.delete(key)
        ctx.report(100, f"{workflow.name}: saved" + (f", final loss {outcome['finalLoss']:.4f}" if losses else ""))
        return outcome


def _files_of(run: RunResult, graph: dict, class_type: str) -> list[FileRef]:
    return [ref for node_id in run.outputs if graph.get(node_id, {}).get("class_type") == class_type for ref in run.files(node_id)]


def loss_history(run: RunResult, graph: dict) -> list[float]:
    """TrainLoraNode's loss per step, from the PreviewAny node the workflow shows its loss map with
    (its /history text is json.dumps({"loss": [...]})); [] when the workflow has none."""
    for node_id, output in run.outputs.items():
        if graph.get(node_id, {}).get("class_type") != "PreviewAny":
            continue
        for text in output.get("text") or []:
            try:
                values = json.loads(text).get("loss")
            except (ValueError, AttributeError):
                continue
            if isinstance(values, list) and values and all(isinstance(v, (int, float)) for v in values):
                return [float(v) for v in values]
    return []


def final_loss(losses: list[float]) -> float | None:
    """The loss at the end of training: the mean of the last tenth of the steps (2-50 of them), since
    a single step's loss jumps with the random noise level it drew."""
    if not losses:
        return None
    tail = losses[-min(len(losses), max(2, min(50, len(losses) // 10))):]
    return round(sum(tail) / len(tail), 5)


# ---- applying a trained style in the picture workflow ----

def checkpoint_of(workflow) -> str | None:
    return next((m.file for m in workflow.models if m.folder == "checkpoints"), None)


def style_workflow(engine, chosen, base_model: str, stage: str = "visuals"):
    """The picture workflow to apply a style with: the chosen one when it loads the style's base
    model, else a ready one that does (a LoRA trained on SDXL does nothing useful on FLUX)."""
    if checkpoint_of(chosen) == base_model:
        return chosen
    for readiness in engine.refresh():
        if readiness.workflow.stage == stage and readiness.ready and checkpoint_of(readiness.workflow) == base_model:
            return readiness.workflow
    raise StageFailure(stage, "BACKEND_UNAVAILABLE",
                       f"This style was trained on {base_model}, and no ready picture workflow uses that model "
                       f"(install it for pictures-sdxl, or choose a picture workflow made with it).", False)


def with_lora(workflow, graph: dict, lora_name: str, strength: float = 1.0) -> dict:
    """The graph with a LoraLoader between its checkpoint loader and everything that used its
    model and CLIP outputs."""
    loader = next(m.node for m in workflow.models if m.folder == "checkpoints" and m.node)
    graph = json.loads(json.dumps(graph))
    node_id = "spinbot_lora"
    for node in graph.values():
        for name, value in node["inputs"].items():
            if isinstance(value, list) and len(value) == 2 and str(value[0]) == loader and value[1] in (0, 1):
                node["inputs"][name] = [node_id, value[1]]
    graph[node_id] = {"class_type": "LoraLoader", "inputs": {"model": [loader, 0], "clip": [loader, 1], "lora_name": lora_name,
                                                             "strength_model": strength, "strength_clip": strength},
                      "_meta": {"title": "The user's style"}}
    return graph


def apply_style(engine, workflow, graph: dict, request, ctx: StageContext) -> dict:
    """Upload the user's LoRA into ComfyUI's output/loras/ (listed by LoraLoader through
    extra_model_paths.yaml, see deploy/comfyui.Dockerfile), prefix the prompt with its trigger word
    and load it between the checkpoint and the sampler."""
    local = ctx.workdir / f"style-{Path(request.lora_key).name}"
    if not local.exists():
        ctx.storage.get_to_file(request.lora_key, local)
    # One file per stored LoRA: its key names it, so two users' "watercolour" never collide.
    name = request.lora_key.replace("/", "_")

    async def upload() -> None:
        async with ComfyClient(engine.url) as client:
            await client.upload(local, name, subfolder="loras", folder_type="output")

    asyncio.run(upload())
    if request.lora_trigger and workflow.accepts("prompt"):
        graph = workflow.fill(graph, prompt=f"{request.lora_trigger} style, {request.prompt}")
    return with_lora(workflow, graph, name)
