"""Workflows as files: workflows/<name>/workflow.json (ComfyUI API format) + manifest.json.

The manifest says which stage the workflow serves, which node inputs receive the job's values
(prompt, negative, seed, width, height, frames, fps, text, input_image, input_audio,
reference_voice, lora, the presenter's face box), which node's output to read, and the model files it needs with their
folder, licence and download page. A user adds a workflow by dropping such a folder into
workflows/ or into SPINBOT_WORKFLOWS_DIR, and selects it by its folder name.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .client import ModelHint
from .graph import UI_FORMAT_MESSAGE, is_ui_format

SHIPPED_DIR = Path(__file__).resolve().parents[4] / "workflows"
PARAMETERS = ("prompt", "negative", "seed", "width", "height", "frames", "fps", "steps", "text",
              "input_image", "input_audio", "reference_voice", "lora",
              # lip-sync: the face in input_image as the worker finds it (pixels), for workflows that crop it
              "face_x", "face_y", "face_width", "face_height",
              # training: the input folder of pictures + captions, and the saved LoRA's name prefix
              "dataset", "output_prefix")
STAGES = ("visuals", "motion", "upscale", "tts", "lipsync", "train_lora")
# lora: SaveLoRA's file, which lands in output/loras/ and is not listed in /history.
OUTPUT_KINDS = ("image", "video", "audio", "lora")
COMMERCIAL_USE = ("yes", "no", "unclear")


class WorkflowError(Exception):
    """A workflow folder that cannot be used; the message says which file and what to change."""


@dataclass(frozen=True)
class ModelFile:
    folder: str
    file: str
    licence: str
    commercial_use: str  # yes | no | unclear
    download: str
    node: str | None = None  # the loader node and input that list it; None: the node fetches it itself
    input: str | None = None

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.file}"


@dataclass(frozen=True)
class Workflow:
    id: str  # its folder name
    name: str  # for people, e.g. "FLUX.1 schnell fp8"
    stage: str
    graph: dict
    inputs: dict[str, tuple[tuple[str, str], ...]]  # parameter -> (node id, input name) targets
    output_node: str
    output_kind: str
    models: tuple[ModelFile, ...]
    vram_gib: float
    size_multiple: int = 8
    frames_multiple: int = 1
    languages: tuple[str, ...] | None = None
    folder: Path | None = None

    @property
    def commercial_safe(self) -> bool:
        return all(model.commercial_use == "yes" for model in self.models)

    @property
    def licences(self) -> str:
        return ", ".join(dict.fromkeys(model.licence for model in self.models)) or "no model files"

    def model_hints(self) -> dict[tuple[str, str], ModelHint]:
        return {(m.node, m.input): ModelHint(m.folder, m.file, m.download) for m in self.models if m.node and m.input}

    def accepts(self, parameter: str) -> bool:
        return parameter in self.inputs

    def fill(self, graph: dict | None = None, **values: Any) -> dict:
        """A copy of the graph (the workflow's, or one filled before) with the job's values put where
        the manifest says; None is skipped."""
        graph = copy.deepcopy(self.graph if graph is None else graph)
        for parameter, value in values.items():
            if value is None:
                continue
            if parameter not in self.inputs:
                raise WorkflowError(f"workflow {self.id} takes no {parameter!r} (it takes {', '.join(self.inputs)})")
            if parameter in ("width", "height"):
                value = max(self.size_multiple, int(value) // self.size_multiple * self.size_multiple)  # down: never more VRAM
            if parameter == "frames":
                value = max(1, (value - 1) // self.frames_multiple * self.frames_multiple + 1)
            for node_id, input_name in self.inputs[parameter]:
                graph[node_id]["inputs"][input_name] = value
        return graph


    def without(self, graph: dict, parameter: str) -> dict:
        """The graph without the nodes that feed `parameter` and the links to them (an optional
        input left unset, e.g. no reference voice: the model's own voice)."""
        dropped = {node_id for node_id, _ in self.inputs.get(parameter, ())}
        graph = {node_id: copy.deepcopy(node) for node_id, node in graph.items() if node_id not in dropped}
        for node in graph.values():
            for name, value in list(node["inputs"].items()):
                if isinstance(value, list) and len(value) == 2 and str(value[0]) in dropped:
                    del node["inputs"][name]
        return graph


def workflow_dirs(env: Mapping[str, str] = os.environ) -> list[Path]:
    """The shipped folder, then the operator's (SPINBOT_WORKFLOWS_DIR, ':'-separated); later ones win."""
    extra = [Path(p) for p in env.get("SPINBOT_WORKFLOWS_DIR", "").split(os.pathsep) if p.strip()]
    return [SHIPPED_DIR, *extra]


def load_workflows(dirs: list[Path] | None = None, refused: list[str] | None = None) -> dict[str, Workflow]:
    """Every workflow folder by name. A folder that cannot be used is left out and, when `refused`
    is given, described there (one user's broken workflow must not stop the worker); without it, raised."""
    found: dict[str, Workflow] = {}
    for base in dirs if dirs is not None else workflow_dirs():
        if not base.is_dir():
            continue
        for folder in sorted(p for p in base.iterdir() if (p / "manifest.json").is_file() or (p / "workflow.json").is_file()):
            try:
                found[folder.name] = load_workflow(folder)
            except WorkflowError as error:
                if refused is None:
                    raise
                refused.append(f"{folder.name}: refused — {error}")
    return found


def load_workflow(folder: Path) -> Workflow:
    manifest_path, graph_path = folder / "manifest.json", folder / "workflow.json"
    manifest = _read_json(manifest_path)
    graph = _read_json(graph_path)
    if is_ui_format(graph):
        raise WorkflowError(f"{graph_path}: {UI_FORMAT_MESSAGE}")
    problems: list[str] = []
    stage = manifest.get("stage")
    if stage not in STAGES:
        problems.append(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
    inputs: dict[str, tuple[tuple[str, str], ...]] = {}
    for parameter, targets in (manifest.get("inputs") or {}).items():
        if parameter not in PARAMETERS:
            problems.append(f"inputs: unknown parameter {parameter!r} (known: {', '.join(PARAMETERS)})")
            continue
        targets = targets if isinstance(targets, list) else [targets]
        pairs = []
        for target in targets:
            node_id, input_name = str(target.get("node")), target.get("input")
            if node_id not in graph:
                problems.append(f"inputs.{parameter}: node {node_id} is not in workflow.json")
            elif input_name not in (graph[node_id].get("inputs") or {}):
                problems.append(f"inputs.{parameter}: node {node_id} ({graph[node_id].get('class_type')}) has no input {input_name!r} in workflow.json")
            pairs.append((node_id, input_name))
        inputs[parameter] = tuple(pairs)
    output = manifest.get("output") or {}
    if str(output.get("node")) not in graph:
        problems.append(f"output.node {output.get('node')!r} is not in workflow.json")
    if output.get("kind") not in OUTPUT_KINDS:
        problems.append(f"output.kind must be one of {', '.join(OUTPUT_KINDS)}")
    models = []
    for model in manifest.get("models") or []:
        missing = [key for key in ("folder", "file", "licence", "commercialUse", "download") if not model.get(key)]
        if missing:
            problems.append(f"models: {model.get('file', '?')} lacks {', '.join(missing)}")
            continue
        if model["commercialUse"] not in COMMERCIAL_USE:
            problems.append(f"models: {model['file']} commercialUse must be one of {', '.join(COMMERCIAL_USE)}")
        node = str(model["node"]) if model.get("node") is not None else None
        if node is not None and graph.get(node, {}).get("inputs", {}).get(model.get("input")) != model["file"]:
            problems.append(f"models: node {node} input {model.get('input')!r} does not load {model['file']}")
        models.append(ModelFile(model["folder"], model["file"], model["licence"], model["commercialUse"], model["download"],
                                node, model.get("input")))
    if problems:
        raise WorkflowError(f"{manifest_path}: " + "; ".join(problems))
    languages = manifest.get("languages")
    return Workflow(id=folder.name, name=str(manifest.get("name") or folder.name), stage=stage, graph=graph, inputs=inputs,
                    output_node=str(output["node"]), output_kind=output["kind"], models=tuple(models),
                    vram_gib=float(manifest.get("vramGiB") or 0), size_multiple=int(manifest.get("sizeMultiple") or 8),
                    frames_multiple=int(manifest.get("framesMultiple") or 1),
                    languages=tuple(languages) if languages else None, folder=folder)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise WorkflowError(f"{path} is missing") from error
    except json.JSONDecodeError as error:
        raise WorkflowError(f"{path} is not valid JSON (line {error.lineno}: {error.msg})") from error
