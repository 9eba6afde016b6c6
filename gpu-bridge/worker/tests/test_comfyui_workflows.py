"""Every shipped workflow against ComfyUI's real node definitions (core snapshot + pinned custom packs)."""

import json

import pytest

from comfyui_emulator import CUSTOM_SNAPSHOT, model_files, snapshot_object_info
from spinbot_worker.comfyui.graph import model_folder_of, input_spec, resolve_markers, validate_graph
from spinbot_worker.comfyui.workflows import SHIPPED_DIR, WorkflowError, load_workflow, load_workflows
from support import REPO_ROOT

SNAPSHOT = snapshot_object_info()
WORKFLOWS = load_workflows([SHIPPED_DIR])
PLACEHOLDER_INPUTS = ["example.png", "example.wav", "spinbot-train/01.png"]  # the last: a training set's folder


def test_the_shipped_set_covers_every_gpu_stage():
    assert {w.stage for w in WORKFLOWS.values()} == {"visuals", "motion", "upscale", "tts", "lipsync", "train_lora"}
    assert {"pictures-flux-schnell", "pictures-sdxl", "motion-wan22-ti2v-5b", "upscale-realesrgan-x2",
            "tts-chatterbox-clone", "lipsync-musetalk", "lipsync-latentsync", "train-lora-sdxl"} <= set(WORKFLOWS)


@pytest.mark.parametrize("workflow_id", sorted(WORKFLOWS))
def test_shipped_workflow_is_valid_against_the_node_definitions(workflow_id):
    workflow = WORKFLOWS[workflow_id]
    info = resolve_markers(SNAPSHOT, model_files(workflow), PLACEHOLDER_INPUTS)
    assert validate_graph(workflow.graph, info) == []
    # Each declared model file is what a loader lists from that very folder.
    for model in workflow.models:
        if model.node:
            spec = input_spec(SNAPSHOT, workflow.graph[model.node]["class_type"], model.input)
            assert model_folder_of(spec) == model.folder, (model.node, model.input)
    # Without its model files the same graph is refused, naming the file.
    if any(m.node for m in workflow.models):
        errors = validate_graph(workflow.graph, resolve_markers(SNAPSHOT, {}, PLACEHOLDER_INPUTS))
        assert {e.type for e in errors} == {"value_not_in_list"}
        assert {e.received for e in errors} == {m.file for m in workflow.models if m.node}


def test_filled_values_land_where_the_manifest_says_and_stay_valid():
    flux = WORKFLOWS["pictures-flux-schnell"]
    graph = flux.fill(prompt="a red fox in snow", seed=42, width=1000, height=563)
    assert graph["6"]["inputs"]["text"] == "a red fox in snow"
    assert graph["31"]["inputs"]["seed"] == 42
    assert (graph["27"]["inputs"]["width"], graph["27"]["inputs"]["height"]) == (992, 560)  # multiples of 16, rounded down
    assert flux.graph["6"]["inputs"]["text"] != "a red fox in snow"  # the file's graph is untouched
    assert validate_graph(graph, resolve_markers(SNAPSHOT, model_files(flux))) == []
    wan = WORKFLOWS["motion-wan22-ti2v-5b"]
    assert wan.fill(frames=120)["55"]["inputs"]["length"] == 117  # Wan wants 4k+1 frames
    with pytest.raises(WorkflowError, match="takes no 'frames'"):
        flux.fill(frames=10)


def test_a_wrong_node_or_input_name_or_link_type_is_caught():
    flux = WORKFLOWS["pictures-flux-schnell"]
    info = resolve_markers(SNAPSHOT, model_files(flux))
    graph = flux.fill()
    graph["31"]["class_type"] = "KSamplerr"
    assert [(e.type, e.class_type) for e in validate_graph(graph, info)] == [("missing_node_type", "KSamplerr")]

    graph = flux.fill()
    graph["31"]["inputs"]["step"] = graph["31"]["inputs"].pop("steps")
    assert {(e.type, e.input_name) for e in validate_graph(graph, info)} == {("unknown_input", "step"), ("required_input_missing", "steps")}

    graph = flux.fill()
    graph["8"]["inputs"]["vae"] = ["30", 1]  # CLIP where a VAE belongs
    [error] = validate_graph(graph, info)
    assert (error.type, error.node_id, error.input_name) == ("return_type_mismatch", "8", "vae")
    assert "CLIP" in error.message and "VAE" in error.message

    graph = flux.fill()
    graph["31"]["inputs"]["sampler_name"] = "euler_fast"
    [error] = validate_graph(graph, info)
    assert error.type == "value_not_in_list" and "euler_fast" in error.message


def test_a_ui_format_workflow_is_refused_with_how_to_export(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "workflow.json").write_text(json.dumps({"last_node_id": 9, "nodes": [{"id": 1, "type": "KSampler"}], "links": []}))
    (folder / "manifest.json").write_text((SHIPPED_DIR / "pictures-flux-schnell" / "manifest.json").read_text())
    with pytest.raises(WorkflowError, match=r"UI format.*Export \(API\)"):
        load_workflow(folder)


def test_a_manifest_pointing_at_a_missing_input_names_it(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "workflow.json").write_text((SHIPPED_DIR / "pictures-flux-schnell" / "workflow.json").read_text())
    manifest = json.loads((SHIPPED_DIR / "pictures-flux-schnell" / "manifest.json").read_text())
    manifest["inputs"]["seed"] = {"node": "31", "input": "noise_seed"}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(WorkflowError, match=r"inputs.seed: node 31 \(KSampler\) has no input 'noise_seed'"):
        load_workflow(folder)


def test_custom_node_packs_are_pinned_in_the_dockerfile_at_the_commits_their_definitions_came_from():
    dockerfile = (REPO_ROOT / "deploy" / "comfyui.Dockerfile").read_text()
    packs = json.loads(CUSTOM_SNAPSHOT.read_text())["packs"]
    used = {cls for w in WORKFLOWS.values() for cls in (n["class_type"] for n in w.graph.values())}
    for pack in packs:
        assert pack["repository"] in dockerfile and pack["commit"] in dockerfile, pack["repository"]
        assert set(pack["nodes"]) & used, f"{pack['repository']} is pinned but no workflow uses it"


def test_the_worker_image_carries_the_workflows_where_the_worker_looks_for_them():
    dockerfile = (REPO_ROOT / "deploy" / "worker.Dockerfile").read_text()
    ignore = (REPO_ROOT / "deploy" / "worker.Dockerfile.dockerignore").read_text().splitlines()
    assert "WORKDIR /app" in dockerfile and "COPY workflows/ workflows/" in dockerfile
    assert "!workflows/" in ignore  # the build context lets it in
    assert SHIPPED_DIR == REPO_ROOT / "workflows"  # /app/workflows in the image, as /app is the repository root there
