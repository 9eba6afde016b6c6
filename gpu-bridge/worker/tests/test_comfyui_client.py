"""The worker's ComfyUI client against the ComfyUI protocol emulator: runs, outputs, faults, cancel."""

import asyncio
import io
import json
import subprocess
import threading

import aiohttp
import pytest
from PIL import Image, ImageStat

from comfyui_emulator import IDLE_VRAM, ComfyEmulator, model_files
from spinbot_worker.comfyui.client import ComfyClient
from spinbot_worker.comfyui.vram import VramWatch, used_bytes
from spinbot_worker.comfyui.workflows import SHIPPED_DIR, load_workflows
from spinbot_worker.errors import StageFailure
from support import mean_volume_db

WORKFLOWS = load_workflows([SHIPPED_DIR])
FLUX = WORKFLOWS["pictures-flux-schnell"]


@pytest.fixture
def comfy():
    with ComfyEmulator(models=model_files(*WORKFLOWS.values())) as emulator:
        yield emulator


async def run_flux(url: str, seed: int = 7, **kwargs):
    progress: list[float] = []
    async with ComfyClient(url, restart_grace=20) as client:
        graph = FLUX.fill(prompt="a red fox in snow", seed=seed, width=640, height=352)
        result = await client.run(graph, stage="visuals", progress=lambda p, m: progress.append(p),
                                  model_hints=FLUX.model_hints(), **kwargs)
        [ref] = result.files(FLUX.output_node)
        return result, await client.view(ref), progress


def test_a_picture_workflow_streams_progress_and_returns_a_real_png(comfy):
    result, png, progress = asyncio.run(run_flux(comfy.url))
    image = Image.open(io.BytesIO(png))
    assert image.size == (640, 352)
    assert min(ImageStat.Stat(image.convert("L")).stddev) > 15  # a picture, not a flat fill
    assert progress == [25.0, 50.0, 75.0, 100.0]  # the 4 sampler steps
    assert comfy.submitted[0]["6"]["inputs"]["text"] == "a red fox in snow"


def test_the_socket_carries_comfyuis_message_sequence_and_a_rerun_is_cached(comfy):
    async def listen_and_run():
        messages = []
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{comfy.url}/ws?clientId=watcher") as ws:
                for _ in range(2):
                    graph = FLUX.fill(seed=1)
                    async with session.post(f"{comfy.url}/prompt", json={"prompt": graph, "client_id": "watcher"}) as response:
                        prompt_id = (await response.json())["prompt_id"]
                    run = []
                    while True:
                        frame = await ws.receive(timeout=20)
                        if frame.type == aiohttp.WSMsgType.BINARY:
                            run.append({"type": "preview", "data": {"prompt_id": None, "header": frame.data[:8].hex()}})
                            continue
                        event = json.loads(frame.data)
                        run.append(event)
                        if event["type"] == "executing" and event["data"]["node"] is None:
                            break
                    messages.append((prompt_id, run))
        return messages

    (first_id, first), (_, second) = asyncio.run(listen_and_run())
    kinds = [m["type"] for m in first]
    assert kinds[0] == "status" and kinds[-2:] == ["execution_success", "executing"]
    assert kinds.index("execution_start") < kinds.index("execution_cached") < kinds.index("executing") < kinds.index("progress") < kinds.index("executed")
    assert all(m["data"]["prompt_id"] == first_id for m in first if m["type"] not in ("status", "preview"))
    assert "progress_state" in kinds and {"type": "preview", "data": {"prompt_id": None, "header": "0000000100000002"}} in first
    assert [m["data"]["nodes"] for m in first if m["type"] == "execution_cached"] == [[]]
    # The same graph again: everything but the save node comes from ComfyUI's cache.
    [cached] = [m["data"]["nodes"] for m in second if m["type"] == "execution_cached"]
    assert set(cached) == set(FLUX.graph) - {"9"}
    assert [m["data"]["node"] for m in second if m["type"] == "executing"] == ["9", None]


def test_a_missing_model_fails_for_good_naming_the_file_its_folder_and_where_to_get_it(comfy):
    comfy.uninstall("checkpoints", "flux1-schnell-fp8.safetensors")
    with pytest.raises(StageFailure) as failure:
        asyncio.run(run_flux(comfy.url))
    assert failure.value.to_dict() == {
        "stage": "visuals", "code": "BACKEND_UNAVAILABLE", "retryable": False,
        "message": "ComfyUI is missing the model file checkpoints/flux1-schnell-fp8.safetensors: put it in ComfyUI's "
                   "models/checkpoints/ folder (download: https://huggingface.co/Comfy-Org/flux1-schnell)."}


def test_a_model_file_that_fails_to_load_is_named_and_not_retried(comfy):
    comfy.inject("missing_model")  # listed by the loader, gone by the time it loads
    with pytest.raises(StageFailure) as failure:
        asyncio.run(run_flux(comfy.url))
    assert (failure.value.code, failure.value.retryable) == ("BACKEND_UNAVAILABLE", False)
    assert failure.value.message.startswith("ComfyUI could not load the model file checkpoints/flux1-schnell-fp8.safetensors")


def test_a_missing_custom_node_names_the_node(comfy):
    del comfy.base_info["FL_ChatterboxTTSNode"]
    tts = WORKFLOWS["tts-chatterbox-clone"]

    async def go():
        async with ComfyClient(comfy.url) as client:
            await client.run(tts.fill(text="Hi."), stage="tts")

    with pytest.raises(StageFailure) as failure:
        asyncio.run(go())
    assert (failure.value.code, failure.value.retryable) == ("BACKEND_UNAVAILABLE", False)
    assert "'FL_ChatterboxTTSNode'" in failure.value.message


def test_out_of_gpu_memory_is_retryable_and_other_node_errors_name_the_node(comfy):
    comfy.inject("oom")
    with pytest.raises(StageFailure) as failure:
        asyncio.run(run_flux(comfy.url))
    assert (failure.value.code, failure.value.retryable) == ("OOM", True)
    assert "KSampler" in failure.value.message

    comfy.inject("error", node_type="VAEDecode")
    with pytest.raises(StageFailure) as failure:
        asyncio.run(run_flux(comfy.url, seed=8))  # another seed: the decoder is not served from the cache
    assert (failure.value.code, failure.value.retryable) == ("INTERNAL", True)
    assert "VAEDecode (node 8)" in failure.value.message and "mat1 and mat2" in failure.value.message


def test_a_dropped_socket_falls_back_to_history(comfy):
    comfy.inject("drop_socket")
    result, png, _ = asyncio.run(run_flux(comfy.url))
    assert Image.open(io.BytesIO(png)).size == (640, 352)
    assert len(comfy.submitted) == 1  # the work was not run twice
    assert any(path == f"/history/{result.prompt_id}" for _, path, _ in comfy.requests)


def test_a_comfyui_restart_mid_run_loses_the_prompt_and_the_client_runs_it_again(comfy):
    comfy.inject("restart")
    result, png, _ = asyncio.run(run_flux(comfy.url))
    assert Image.open(io.BytesIO(png)).size == (640, 352)
    assert len(comfy.submitted) == 2
    comfy.history_entry(result.prompt_id)
    assert comfy.history.keys() == {result.prompt_id}  # the first prompt died with the old process


def test_cancelling_mid_workflow_sends_interrupt_and_ends_cancelled(comfy):
    comfy.inject("hang")
    stop = threading.Event()

    def cancel_when_progressing(percent, message):
        stop.set()

    async def go():
        async with ComfyClient(comfy.url) as client:
            await client.run(FLUX.fill(), stage="visuals", progress=cancel_when_progressing, cancelled=stop.is_set)

    with pytest.raises(StageFailure) as failure:
        asyncio.run(go())
    assert failure.value.to_dict()["code"] == "CANCELLED" and failure.value.retryable is False
    [body] = comfy.calls("/interrupt")
    assert comfy.history_entry(body["prompt_id"])["status"]["status_str"] == "error"  # ComfyUI stopped that very prompt


def test_a_cloned_voice_run_uploads_the_reference_and_returns_speech(comfy, tmp_path):
    reference = tmp_path / "anna.wav"
    subprocess.run(["espeak-ng", "-w", str(reference), "This is my voice."], check=True)
    tts = WORKFLOWS["tts-chatterbox-clone"]

    async def go():
        async with ComfyClient(comfy.url) as client:
            name = await client.upload(reference, "job-1-anna.wav")
            result = await client.run(tts.fill(text="Welcome to the harbour.", reference_voice=name), stage="tts")
            [ref] = result.files(tts.output_node)
            await client.free()
            return name, ref, await client.view(ref)

    name, ref, flac = asyncio.run(go())
    assert name == "spinbot/job-1-anna.wav" and ref.filename.endswith(".flac")
    out = tmp_path / "speech.flac"
    out.write_bytes(flac)
    assert mean_volume_db(out) > -40
    assert comfy.calls("/free") == [{"unload_models": True, "free_memory": True}]


def test_comfyui_down_is_reported_as_unavailable_and_retryable():
    async def go():
        async with ComfyClient("http://127.0.0.1:9", request_timeout=3) as client:
            await client.run(FLUX.fill(), stage="visuals")

    with pytest.raises(StageFailure) as failure:
        asyncio.run(go())
    assert (failure.value.code, failure.value.retryable) == ("BACKEND_UNAVAILABLE", True)
    assert "http://127.0.0.1:9" in failure.value.message


def test_vram_is_watched_through_a_run_and_a_comfyui_that_cannot_say_fails_nothing(comfy):
    async def watched(url: str):
        async with ComfyClient(url) as client:
            async with VramWatch(client, interval=0.05, min_gap=0) as watch:
                if url == comfy.url:
                    await client.run(FLUX.fill(prompt="a lighthouse", seed=3, width=320, height=192), stage="visuals",
                                     progress=lambda p, m: watch.poke())
            return watch

    watch = asyncio.run(watched(comfy.url))
    # The checkpoint the run loaded is still on the GPU at its end (ComfyUI keeps it until /free).
    assert watch.peak >= IDLE_VRAM + comfy.model_bytes and watch.samples >= 2
    assert asyncio.run(watched("http://127.0.0.1:9")).peak is None  # nothing listening: no reading, no error
    assert used_bytes({"devices": [{"name": "cpu", "type": "cpu", "vram_total": 0, "vram_free": 0}]}) is None
