"""API-format ComfyUI graphs checked against node definitions (/object_info), the way ComfyUI's
execution.validate_prompt checks them, with the same error types; plus one stricter rule: an input
the node does not define is an error (ComfyUI ignores it silently, which hides a misspelt name).

A snapshot of /object_info (tests, workflows checked offline) holds markers instead of file lists:
"__FOLDER__:<folder>" for a loader's model files and "__INPUT__:<kinds>" for uploaded inputs;
resolve_markers() fills them in with the files a server has.
"""

from __future__ import annotations

import copy
import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

FOLDER_MARKER = "__FOLDER__:"
INPUT_MARKER = "__INPUT__:"
INPUT_DIRS_MARKER = "__INPUT_DIRS__"
# Types whose value is typed in the graph, not linked (ComfyUI's widget types).
SCALAR_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN"}

UI_FORMAT_MESSAGE = (
    "This is a workflow saved in ComfyUI's UI format (it has \"nodes\" and \"links\"), which the API cannot run. "
    "Export it in API format: in ComfyUI open Settings, turn on \"Enable Dev mode Options\" (older versions) "
    "or use the menu Workflow > Export (API), and save that file instead."
)


@dataclass(frozen=True)
class GraphError:
    """One problem, in ComfyUI's node_errors vocabulary (type) with a sentence for people."""
    node_id: str
    class_type: str
    type: str  # e.g. missing_node_type, required_input_missing, value_not_in_list, return_type_mismatch
    message: str
    input_name: str | None = None
    received: Any = None

    def describe(self) -> str:
        where = f"node {self.node_id} ({self.class_type})" + (f" input {self.input_name!r}" if self.input_name else "")
        return f"{where}: {self.message}"


def load_object_info(path: Path) -> dict[str, dict]:
    """A snapshot file (.json or .json.gz): either a bare /object_info answer or {"object_info": ...}."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    data = json.loads(raw)
    return data["object_info"] if "object_info" in data and isinstance(data["object_info"], dict) else data


def resolve_markers(object_info: Mapping[str, dict], models: Mapping[str, Iterable[str]] | None = None,
                    inputs: Iterable[str] = ()) -> dict[str, dict]:
    """A copy whose folder/input markers are replaced by those files (sorted, as ComfyUI lists them)."""
    models = {folder: sorted(files) for folder, files in (models or {}).items()}
    inputs = sorted(inputs)
    resolved = copy.deepcopy(dict(object_info))
    for node in resolved.values():
        for section in ("required", "optional"):
            for spec in (node.get("input", {}).get(section) or {}).values():
                choices = _choices_of(spec)
                if choices is None:
                    continue
                filled: list = []
                for choice in choices:
                    if isinstance(choice, str) and choice.startswith(FOLDER_MARKER):
                        filled.extend(models.get(choice[len(FOLDER_MARKER):], []))
                    elif isinstance(choice, str) and choice.startswith(INPUT_MARKER):
                        filled.extend(inputs)
                    elif choice == INPUT_DIRS_MARKER:  # dataset loaders list the input folder's subfolders
                        filled.extend(sorted({f.rsplit("/", 1)[0] for f in inputs if "/" in f}))
                    else:
                        filled.append(choice)
                choices[:] = filled
    return resolved


def model_folder_of(spec: Any) -> str | None:
    """The model folder a loader input lists (from a snapshot's marker), e.g. "diffusion_models"."""
    for choice in _choices_of(spec) or []:
        if isinstance(choice, str) and choice.startswith(FOLDER_MARKER):
            return choice[len(FOLDER_MARKER):]
    return None


def is_ui_format(document: Any) -> bool:
    return isinstance(document, dict) and "nodes" in document and "links" in document


def input_spec(object_info: Mapping[str, dict], class_type: str, input_name: str) -> Any:
    inputs = object_info.get(class_type, {}).get("input", {})
    for section in ("required", "optional"):
        spec = (inputs.get(section) or {}).get(input_name)
        if spec is not None:
            return spec
    return None


def validate_graph(graph: Any, object_info: Mapping[str, dict]) -> list[GraphError]:
    """Every problem of an API-format graph against these node definitions; [] when it can run."""
    if is_ui_format(graph):
        return [GraphError("", "", "ui_format", UI_FORMAT_MESSAGE)]
    if not isinstance(graph, dict) or not graph:
        return [GraphError("", "", "invalid_prompt", "A workflow must be a non-empty object of node id -> {class_type, inputs}.")]
    errors: list[GraphError] = []
    for node_id, node in graph.items():
        if not isinstance(node, dict) or not isinstance(node.get("class_type"), str):
            errors.append(GraphError(str(node_id), "", "invalid_prompt", "has no class_type"))
        elif node["class_type"] not in object_info:
            errors.append(GraphError(str(node_id), node["class_type"], "missing_node_type",
                                     f"node type {node['class_type']!r} is not installed in ComfyUI"))
    if errors:
        return errors
    if not any(object_info[node["class_type"]].get("output_node") for node in graph.values()):
        return [GraphError("", "", "prompt_no_outputs", "the workflow has no output node (e.g. SaveImage)")]
    for node_id, node in graph.items():
        errors.extend(_validate_node(str(node_id), node, graph, object_info))
    return errors


def _validate_node(node_id: str, node: dict, graph: dict, object_info: Mapping[str, dict]) -> list[GraphError]:
    class_type = node["class_type"]
    definition = object_info[class_type]
    values = node.get("inputs") or {}
    declared = definition.get("input", {})
    required = declared.get("required") or {}
    optional = declared.get("optional") or {}
    hidden = declared.get("hidden") or {}
    errors: list[GraphError] = []

    def error(kind: str, message: str, name: str | None = None, received: Any = None) -> None:
        errors.append(GraphError(node_id, class_type, kind, message, name, received))

    for name in values:
        if name not in required and name not in optional and name not in hidden:
            error("unknown_input", f"{class_type} has no input {name!r} (its inputs: {', '.join([*required, *optional])})", name)
    for name, spec in [*required.items(), *optional.items()]:
        if name not in values:
            if name in required:
                error("required_input_missing", "Required input is missing", name)
            continue
        value = values[name]
        kind = _type_of(spec)
        if isinstance(value, list):
            if len(value) != 2 or not isinstance(value[1], int):
                error("bad_linked_input", "Bad linked input, must be a length-2 list of [node_id, slot_index]", name, value)
                continue
            source = graph.get(str(value[0]))
            if source is None:
                error("bad_linked_input", f"links to node {value[0]!r}, which is not in the workflow", name, value)
                continue
            outputs = object_info[source["class_type"]].get("output") or []
            if not 0 <= value[1] < len(outputs):
                error("bad_linked_input", f"links to output {value[1]} of {source['class_type']}, which has {len(outputs)}", name, value)
                continue
            received_type = outputs[value[1]]
            if not _types_match(received_type, kind):
                error("return_type_mismatch",
                      f"received_type({received_type}) mismatch input_type({kind})", name, value)
            continue
        options = spec[1] if isinstance(spec, (list, tuple)) and len(spec) > 1 and isinstance(spec[1], dict) else {}
        choices = _choices_of(spec)
        if choices is not None:
            if kind == "COMFY_DYNAMICCOMBO_V3":
                # The chosen option is checked; the inputs it brings with it (e.g. SaveVideo's codec) are not.
                choices = [option.get("key") for option in options.get("options", [])]
            if value not in choices:
                shown = ", ".join(repr(c) for c in choices[:20]) or "(none: the folder is empty)"
                error("value_not_in_list", f"Value not in list: {value!r} not in [{shown}]", name, value)
        elif kind in SCALAR_TYPES:
            problem = _scalar_problem(kind, value, options)
            if problem:
                error(problem[0], problem[1], name, value)
        else:
            error("bad_linked_input", f"a {kind} input must be linked to another node's output", name, value)
    return errors


def _type_of(spec: Any) -> str:
    head = spec[0] if isinstance(spec, (list, tuple)) and spec else spec
    return "COMBO" if isinstance(head, list) else str(head)


def _choices_of(spec: Any) -> list | None:
    """The mutable list of choices of a COMBO input spec, or None for other types."""
    if not isinstance(spec, (list, tuple)) or not spec:
        return None
    if isinstance(spec[0], list):
        return spec[0]
    if spec[0] in ("COMBO", "COMFY_DYNAMICCOMBO_V3") and len(spec) > 1 and isinstance(spec[1], dict):
        return spec[1].setdefault("options", [])
    return None


def _types_match(received: str, expected: str) -> bool:
    if received == "*" or expected == "*" or received == expected:
        return True
    # ComfyUI accepts comma-separated type sets that overlap, e.g. "IMAGE,MASK".
    return bool(set(received.split(",")) & set(expected.split(",")))


def _scalar_problem(kind: str, value: Any, options: dict) -> tuple[str, str] | None:
    if kind == "INT" and (isinstance(value, bool) or not isinstance(value, int)):
        return "invalid_input_type", f"expected a whole number, got {value!r}"
    if kind == "FLOAT" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return "invalid_input_type", f"expected a number, got {value!r}"
    if kind == "STRING" and not isinstance(value, str):
        return "invalid_input_type", f"expected text, got {value!r}"
    if kind == "BOOLEAN" and not isinstance(value, bool):
        return "invalid_input_type", f"expected true or false, got {value!r}"
    if kind in ("INT", "FLOAT"):
        if "min" in options and value < options["min"]:
            return "value_smaller_than_min", f"Value {value} smaller than min of {options['min']}"
        if "max" in options and value > options["max"]:
            return "value_bigger_than_max", f"Value {value} bigger than max of {options['max']}"
    return None
