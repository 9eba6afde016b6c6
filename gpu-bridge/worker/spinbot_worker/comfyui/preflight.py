"""Before any job: can each workflow run on this ComfyUI? Node classes present in /object_info,
model files among the loaders' choices, enough GPU memory, and (SPINBOT_COMMERCIAL_SAFE=true) a
licence that allows commercial use. One line per workflow, e.g.
  motion: Wan 2.2 TI2V-5B — missing diffusion_models/wan2.2_ti2v_5B_fp16.safetensors (download page …)
With SPINBOT_MODELS_DIR (the weights folder ComfyUI's models tree is shared from) the files no loader
lists, those a custom node fetches itself, are looked for there; and a listed model ComfyUI lacks but
the folder holds is named as a folder ComfyUI does not see.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import aiohttp

from ..config import comfyui_models_dir
from .client import ComfyClient
from .graph import validate_graph
from .workflows import Workflow

GIB = 1024 ** 3
# Inputs filled per job (an uploaded file's name): their placeholder values are not checked here.
RUNTIME_FILE_PARAMETERS = ("input_image", "input_audio", "reference_voice", "dataset")
# Which workflow a stage prefers when several are ready and the operator chose none. Lip-sync:
# MuseTalk first (one UNet pass per frame, ~30 fps on a 4090), LatentSync (20 diffusion steps, ~41 s
# per output second on a 5070 Ti) when MuseTalk is not ready; the CPU presenter when neither is.
PREFERRED = ("pictures-flux-schnell", "pictures-sdxl", "lipsync-musetalk", "lipsync-latentsync")


@dataclass
class Readiness:
    workflow: Workflow
    problems: list[str] = field(default_factory=list)
    excluded: bool = False  # commercial-safe mode keeps it out whatever else is true
    on_disk: tuple[str, ...] = ()  # node-fetched model files found in SPINBOT_MODELS_DIR

    @property
    def ready(self) -> bool:
        return not self.problems

    def line(self) -> str:
        state = "; ".join(self.problems)
        if self.ready:
            unchecked = [m.file for m in self.workflow.models if m.node is None and m.path not in self.on_disk]
            # Weights a custom node downloads itself are in no loader's list: say they are not checked.
            state = f"ready (unchecked: {'; '.join(unchecked)}, fetched by the node on first use)" if unchecked else "ready"
        return f"{self.workflow.stage}: {self.workflow.name} — {state}"


def commercial_safe_mode(env: Mapping[str, str] = os.environ) -> bool:
    return env.get("SPINBOT_COMMERCIAL_SAFE", "").strip().lower() in ("1", "true", "yes", "on")


def check(workflow: Workflow, object_info: Mapping[str, dict], system_stats: Mapping | None,
          commercial_safe: bool = False, models_dir: Path | None = None) -> Readiness:
    """Readiness of one workflow against a ComfyUI's /object_info and /system_stats (and the shared
    models folder, when there is one)."""
    readiness = Readiness(workflow)
    if commercial_safe and not workflow.commercial_safe:
        readiness.excluded = True
        unsafe = [f"{m.file} ({m.licence})" for m in workflow.models if m.commercial_use != "yes"]
        readiness.problems.append(f"excluded: licence — {', '.join(unsafe)} not cleared for commercial use")
        return readiness
    runtime = {target for p in RUNTIME_FILE_PARAMETERS for target in workflow.inputs.get(p, ())}
    hints = workflow.model_hints()
    missing_nodes, missing_models, other = [], [], []
    for error in validate_graph(workflow.graph, object_info):
        if error.type == "missing_node_type":
            missing_nodes.append(error.class_type)
        elif error.type == "value_not_in_list" and (error.node_id, error.input_name) in runtime:
            continue
        elif error.type == "value_not_in_list" and (error.node_id, error.input_name) in hints:
            hint = hints[(error.node_id, error.input_name)]
            there = _on_disk(models_dir, hint.folder, hint.file)
            missing_models.append(f"{hint.folder}/{hint.file} (it is in {there}, but this ComfyUI does not list it: does it "
                                  f"use {comfyui_models_dir(models_dir)} as its models folder?)" if there else
                                  f"{hint.folder}/{hint.file} (download page {hint.download})")
        else:
            other.append(error.describe())
    if missing_nodes:
        readiness.problems.append(f"missing nodes {', '.join(missing_nodes)} (install the custom node packs pinned in deploy/comfyui.Dockerfile)")
    if missing_models:
        readiness.problems.append("missing " + ", ".join(missing_models))
    if other:
        readiness.problems.append("workflow does not fit this ComfyUI: " + "; ".join(other[:3]))
    readiness.on_disk = tuple(m.path for m in workflow.models if m.node is None
                              and all(_on_disk(models_dir, m.folder, f) for f in m.file.split(", ")))
    gpu = gpu_device(system_stats)
    if gpu is None:
        readiness.problems.append("ComfyUI reports no GPU")
    elif workflow.vram_gib and gpu["vram_total"] < workflow.vram_gib * GIB * 0.95:
        readiness.problems.append(f"needs {workflow.vram_gib:g} GiB of GPU memory, {gpu['name']} has {gpu['vram_total'] / GIB:.1f} GiB")
    return readiness


async def preflight(client: ComfyClient, workflows: Mapping[str, Workflow], commercial_safe: bool = False,
                    models_dir: Path | None = None) -> list[Readiness]:
    """Every workflow's readiness against the live ComfyUI; unreachable: every one says so."""
    try:
        object_info, stats = await asyncio.gather(client.object_info(), client.system_stats())
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
        reason = f"ComfyUI at {client.display_url} is not reachable ({str(error) or type(error).__name__})"
        results = []
        for workflow in workflows.values():
            readiness = check(workflow, {}, None, commercial_safe) if commercial_safe and not workflow.commercial_safe else Readiness(workflow, [reason])
            results.append(readiness)
        return results
    return [check(workflow, object_info, stats, commercial_safe, models_dir) for workflow in workflows.values()]


def choose(results: list[Readiness], stage: str, wanted: str | None = None) -> Readiness | None:
    """The workflow a stage runs: the operator's choice (SPINBOT_<STAGE>_WORKFLOW) or the first
    ready one in preference order; when none is ready, the one that would be used (to say why)."""
    ours = [r for r in results if r.workflow.stage == stage]
    if wanted:
        return next((r for r in ours if r.workflow.id == wanted), None)
    ours.sort(key=lambda r: (not r.ready, r.excluded, PREFERRED.index(r.workflow.id) if r.workflow.id in PREFERRED else len(PREFERRED)))
    return ours[0] if ours else None


def _on_disk(models_dir: Path | None, folder: str, file: str) -> Path | None:
    """The model file in the shared models folder, when there is one and it holds the file."""
    if models_dir is None:
        return None
    path = comfyui_models_dir(models_dir) / folder / file
    return path if path.is_file() else None


def describe_gpu(system_stats: Mapping | None) -> str:
    gpu = gpu_device(system_stats)
    version = ((system_stats or {}).get("system") or {}).get("comfyui_version", "?")
    if gpu is None:
        return f"ComfyUI {version}, no GPU"
    return f"ComfyUI {version}, {gpu['name']}, {gpu['vram_total'] / GIB:.1f} GiB"


def gpu_device(system_stats: Mapping | None) -> dict | None:
    """The first GPU device of a /system_stats answer, its name shortened; None when ComfyUI runs on the CPU."""
    devices = [d for d in (system_stats or {}).get("devices", []) if d.get("type") not in (None, "cpu")]
    if not devices:
        return None
    device = dict(devices[0])
    # "cuda:0 NVIDIA GeForce RTX 5070 Ti : cudaMallocAsync" -> "NVIDIA GeForce RTX 5070 Ti"
    device["name"] = str(device.get("name", "GPU")).split(" : ")[0].split(" ", 1)[-1]
    device["vram_total"] = int(device.get("vram_total") or 0)
    return device
