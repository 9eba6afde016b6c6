"""A style (LoRA) trained from chat pictures through the ComfyUI training workflow, against the
ComfyUI emulator: the pictures and their captions reach the dataset folder, progress counts steps,
SaveLoRA's file (in output/loras/, not in /history) is fetched and stored under the user's
namespace with its base model; bad picture sets are refused with nothing stored; without a
training workflow the job fails at once saying what is needed."""

import asyncio
import io

import pytest
from PIL import Image

from comfyui_emulator import ComfyEmulator, model_files
from spinbot_worker.backends import BackendRegistry, build_registry
from spinbot_worker.comfyui.workflows import SHIPPED_DIR, load_workflows
from spinbot_worker.contracts import schema_errors
from spinbot_worker.errors import StageFailure
from spinbot_worker.pipeline import handle_job
from spinbot_worker.runtime import JobRuntime
from spinbot_worker.storage import FileStorage

WORKFLOWS = load_workflows([SHIPPED_DIR])
USER = {"platform": "test", "userId": "u1", "chatId": "c1"}


def lora_job(keys, **changes) -> dict:
    return {"kind": "train_lora", "contractVersion": 1, "jobId": "train-lora-001", "requestedBy": USER,
            "name": "Watercolour", "imageKeys": keys, "steps": 60, "caption": "soft washes of colour", **changes}


def store_pictures(storage, count, size=(640, 640), name="pic"):
    keys = []
    for n in range(count):
        buffer = io.BytesIO()
        Image.new("RGB", size, (20 * n % 255, 90, 160)).save(buffer, "PNG")
        key = f"uploads/test/u1/{name}-{n:02d}.png"
        storage.put_bytes(key, buffer.getvalue())
        keys.append(key)
    return keys


def run(job, storage, tmp_path, monkeypatch, comfy=None):
    if comfy is not None:
        monkeypatch.setenv("COMFYUI_URL", comfy.url)
    else:
        monkeypatch.delenv("COMFYUI_URL", raising=False)
    events = []

    async def collect(event):
        events.append(event)

    registry = build_registry(("spinbot_worker.comfyui.backends",), BackendRegistry(gpu_probe=lambda: None))
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    rt = JobRuntime(job_id=job["jobId"], storage=storage, registry=registry, workdir=workdir, send_progress=collect)
    return asyncio.run(handle_job(job, rt)), events


@pytest.fixture
def comfy():
    with ComfyEmulator(models=model_files(WORKFLOWS["train-lora-sdxl"])) as emulator:
        yield emulator


def test_a_style_is_trained_on_comfyui_and_stored_with_its_base_model(tmp_path, monkeypatch, comfy):
    storage = FileStorage(tmp_path / "data")
    keys = store_pictures(storage, 8)
    result, events = run(lora_job(keys), storage, tmp_path, monkeypatch, comfy)

    assert schema_errors("train-result", result) == []
    assert result["loraKey"] == "users/test/u1/loras/watercolour.safetensors"
    assert result["baseModel"] == "sd_xl_base_1.0.safetensors" and result["images"] == 8 and result["steps"] == 60
    assert result["backend"] == {"name": "SDXL LoRA training (ComfyUI)", "device": "gpu"}
    lora = storage.path_for(result["loraKey"]).read_bytes()
    assert lora[8:].startswith(b'{"__metadata__"')  # the safetensors file SaveLoRA wrote, not a history output
    [graph] = comfy.submitted
    assert graph["4"]["inputs"]["steps"] == 60 and graph["5"]["class_type"] == "SaveLoRA"
    dataset = comfy.input_dir / graph["2"]["inputs"]["folder"]
    assert len(list(dataset.glob("*.png"))) == 8
    with Image.open(dataset / "01.png") as uploaded:  # cropped to the training size (training/crop.py), not the 640x640 sent
        assert uploaded.size == (1024, 1024)
    assert any("8 pictures cropped to 1024x1024" in e["message"] for e in events)
    assert (dataset / "01.txt").read_text() == f"{result['trigger']} style, soft washes of colour"
    steps = [e["message"] for e in events if "step" in e["message"]]
    assert steps and "of 60" in steps[-1] and "left" in steps[-1]
    assert events[-1]["percent"] == 100
    # The loss: TrainLoraNode's loss map shown as text (PreviewAny) and drawn (LossGraphNode), both in /history.
    assert {graph["6"]["class_type"], graph["7"]["class_type"]} == {"PreviewAny", "LossGraphNode"}
    assert 0.03 < result["finalLoss"] < 0.1, result["finalLoss"]  # the emulator's curve falls from about 0.15
    assert any(f"final loss {result['finalLoss']:.4f}" in e["message"] for e in events)
    assert result["lossGraphKey"] == "users/test/u1/loras/watercolour-loss.png"
    with Image.open(storage.path_for(result["lossGraphKey"])) as curve:
        assert curve.format == "PNG" and curve.size == (840, 520)
    # The uploaded pictures are gone once the style is stored; the style itself stays.
    assert storage.list("uploads/test/u1/") == [] and storage.path_for(result["loraKey"]).exists()


@pytest.mark.parametrize("case, message", [
    ("too_few", "8 to 40 pictures"),
    ("not_images", "is not a picture"),
    ("too_small", "at least 512 px"),
    ("bomb", "megapixels"),
])
def test_a_bad_picture_set_is_refused_and_nothing_is_trained_or_stored(tmp_path, monkeypatch, comfy, case, message):
    storage = FileStorage(tmp_path / "data")
    keys = store_pictures(storage, 3 if case == "too_few" else 8, size=(300, 300) if case == "too_small" else (640, 640))
    if case == "not_images":
        storage.put_bytes(keys[3], b"%PDF-1.7 not a picture at all")
    if case == "bomb":
        # A PNG that declares 20000x20000 pixels in its header: refused before anything decodes it.
        buffer = io.BytesIO()
        Image.new("1", (20000, 20000)).save(buffer, "PNG")
        storage.put_bytes(keys[0], buffer.getvalue())
    with pytest.raises(StageFailure) as caught:
        run(lora_job(keys if case != "too_few" else keys + keys[:1]), storage, tmp_path, monkeypatch, comfy)
    assert (caught.value.code, caught.value.retryable) == ("BAD_INPUT", False)
    assert message in caught.value.message
    assert comfy.submitted == [] and storage.list("users/test/u1/loras/") == []


def test_without_a_training_workflow_on_a_gpu_the_job_says_what_is_needed(tmp_path, monkeypatch):
    storage = FileStorage(tmp_path / "data")
    keys = store_pictures(storage, 8)
    with pytest.raises(StageFailure) as caught:
        run(lora_job(keys), storage, tmp_path, monkeypatch)
    assert (caught.value.code, caught.value.retryable) == ("NO_GPU", False)
    assert "needs a GPU worker" in caught.value.message
    assert storage.list("users/test/u1/loras/") == []


def test_a_following_render_in_that_style_loads_the_lora_in_the_picture_workflow(tmp_path, monkeypatch):
    from support import contract_fixture

    models = model_files(WORKFLOWS["train-lora-sdxl"], WORKFLOWS["pictures-flux-schnell"], WORKFLOWS["pictures-sdxl"])
    with ComfyEmulator(models=models) as comfy:
        storage = FileStorage(tmp_path / "data")
        trained, _ = run(lora_job(store_pictures(storage, 8)), storage, tmp_path, monkeypatch, comfy)
        style = {"name": "Watercolour", "loraKey": trained["loraKey"], "baseModel": trained["baseModel"], "trigger": trained["trigger"]}
        render = contract_fixture("valid-render.json", jobId="styled-render-01", backends={}, style=style,
                                  requestedBy=USER)
        result, _ = run(render, storage, tmp_path, monkeypatch, comfy)
        uploaded = (comfy.output_dir / "loras" / "users_test_u1_loras_watercolour.safetensors").read_bytes()
    assert uploaded == storage.path_for(trained["loraKey"]).read_bytes()
    assert result["backends"]["visuals"]["device"] == "gpu"
    pictures = [g for g in comfy.submitted if any(n["class_type"] == "KSampler" for n in g.values())]
    assert len(pictures) == len(result["scenes"]) == 2
    for graph in pictures:
        # FLUX is the default picture workflow, but this style was trained on SDXL: the SDXL workflow ran it.
        assert graph["4"]["inputs"]["ckpt_name"] == "sd_xl_base_1.0.safetensors"
        lora = graph["spinbot_lora"]
        assert lora["class_type"] == "LoraLoader" and lora["inputs"]["lora_name"] == "users_test_u1_loras_watercolour.safetensors"
        sampler = next(n for n in graph.values() if n["class_type"] == "KSampler")
        assert sampler["inputs"]["model"] == ["spinbot_lora", 0]
        assert graph["6"]["inputs"]["text"].startswith(f"{trained['trigger']} style, ")
