"""The worker process with COMFYUI_URL set, serving render jobs from the real queue against the
ComfyUI emulator: GPU workflows when they are ready, the CPU backend (and a result saying so) when not."""

import json
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import matplotlib.cbook
import pytest
import redis
from PIL import Image, ImageStat

from prometheus_client.parser import text_string_to_metric_families

from comfyui_emulator import IDLE_VRAM, ComfyEmulator, model_files
from spinbot_worker.comfyui.workflows import SHIPPED_DIR, load_workflows
from spinbot_worker.contracts import schema_errors
from spinbot_worker.presenter.portrait import analyse
from spinbot_worker.storage import FileStorage
from support import contract_fixture, enqueue, mean_volume_db, probe_seconds, progress_events, run_async, wait_finished

WORKFLOWS = load_workflows([SHIPPED_DIR])


@pytest.fixture
def comfy():
    with ComfyEmulator(models=model_files(WORKFLOWS["pictures-flux-schnell"], WORKFLOWS["upscale-realesrgan-x2"])) as emulator:
        yield emulator


def render_job() -> dict:
    return contract_fixture("valid-render.json", jobId="comfy-render-001", backends={})


def test_pictures_narration_and_upscale_come_from_comfyui_workflows(start_worker, redis_url, queue_name, data_dir, comfy):
    worker = start_worker(COMFYUI_URL=comfy.url, SPINBOT_WORKER_METRICS_PORT="0")
    assert "tts=Chatterbox (ComfyUI), visuals=FLUX.1 schnell fp8 (ComfyUI), upscale=Real-ESRGAN x2plus (ComfyUI)" in worker.lines[0]
    preflight = worker.log()
    assert "preflight visuals: FLUX.1 schnell fp8 — ready" in preflight
    assert "preflight motion: Wan 2.2 TI2V-5B — missing diffusion_models/wan2.2_ti2v_5B_fp16.safetensors (download page https://huggingface.co/Comfy-Org/Wan_2.2_ComfyUI_Repackaged)" in preflight

    job_id = run_async(enqueue(redis_url, queue_name, render_job(), attempts=2))
    job = run_async(wait_finished(redis_url, queue_name, job_id, timeout=90))
    assert job.failedReason is None, job.failedReason + worker.log()
    result = job.returnvalue
    assert schema_errors("render-result", result) == []
    assert result["backends"] == {"tts": {"name": "Chatterbox (ComfyUI)", "device": "gpu"},
                                  "visuals": {"name": "FLUX.1 schnell fp8 (ComfyUI)", "device": "gpu"},
                                  "upscale": {"name": "Real-ESRGAN x2plus (ComfyUI)", "device": "gpu"}}
    storage = FileStorage(data_dir)
    for scene in result["scenes"]:
        image = Image.open(storage.path_for(scene["imageKey"]))
        assert image.size == (1280, 720) and min(ImageStat.Stat(image.convert("L")).stddev) > 15
        assert mean_volume_db(storage.path_for(scene["audioKey"])) > -40
        assert 0 < scene["audioSeconds"] <= scene["seconds"]
    # Each scene's prompt reached the picture workflow with the plan's style, and each picture was upscaled.
    prompts = [g["6"]["inputs"]["text"] for g in comfy.submitted if g.get("6", {}).get("class_type") == "CLIPTextEncode"]
    assert prompts == ["sunlight through a prism, watercolour style", "blue light scattering in the atmosphere, watercolour style"]
    assert sum(1 for g in comfy.submitted if "2" in g and g["2"]["class_type"] == "UpscaleModelLoader") == 2
    # Freed between stages (narration -> pictures -> upscale), not between scenes: each model loads once per job.
    assert comfy.calls("/free") == [{"unload_models": True, "free_memory": True}] * 2

    def step(path, body):
        classes = {node["class_type"] for node in body["prompt"].values()} if path == "/prompt" else set()
        return "free" if path == "/free" else "tts" if "FL_ChatterboxTTSNode" in classes else \
            "upscale" if "UpscaleModelLoader" in classes else "visuals"
    assert [step(p, b) for _, p, b in comfy.requests if p in ("/free", "/prompt")] == \
        ["tts", "tts", "free", "visuals", "visuals", "free", "upscale", "upscale"]
    assert any(e.get("backend") == "FLUX.1 schnell fp8 (ComfyUI)" and "step" in e["message"]
               for e in progress_events(redis_url, queue_name, job_id))

    # What Prometheus scrapes: each GPU stage's time and the most GPU memory ComfyUI had in use while
    # it ran (read from /system_stats): the loaded model on top of the idle half GiB.
    metrics_url = re.search(r"serving /metrics and /healthz on (http://\S+)", worker.log()).group(1) + "/metrics"
    scraped = {(s.name, s.labels.get("stage"), s.labels.get("backend")): s.value
               for family in text_string_to_metric_families(urllib.request.urlopen(metrics_url, timeout=10).read().decode())
               for s in family.samples}
    for stage in ("visuals", "upscale"):
        assert scraped[("spinbot_stage_duration_seconds_count", stage, f"comfyui-{stage}")] == 1
        assert scraped[("spinbot_stage_vram_peak_bytes", stage, f"comfyui-{stage}")] >= IDLE_VRAM + comfy.model_bytes
    assert scraped[("spinbot_stage_vram_peak_bytes", "tts", "comfyui-tts")] >= IDLE_VRAM
    assert not any(name == "spinbot_stage_vram_peak_bytes" and stage == "motion" for name, stage, _ in scraped)  # did not run


def test_a_stage_whose_workflow_is_not_ready_falls_back_to_the_cpu_and_says_so(start_worker, redis_url, queue_name, comfy):
    comfy.uninstall("checkpoints", "flux1-schnell-fp8.safetensors")
    worker = start_worker(COMFYUI_URL=comfy.url, SPINBOT_TTS_BACKEND="espeak-ng")
    job_id = run_async(enqueue(redis_url, queue_name, render_job(), attempts=1))
    job = run_async(wait_finished(redis_url, queue_name, job_id, timeout=90))
    assert job.failedReason is None, job.failedReason + worker.log()
    backends = job.returnvalue["backends"]
    assert backends["visuals"]["device"] == "cpu"
    assert backends["visuals"]["name"].endswith(" (CPU; GPU workflow FLUX.1 schnell fp8 not ready)")
    assert backends["upscale"]["name"] == "Real-ESRGAN x2plus (ComfyUI)"


def test_an_explicit_gpu_request_whose_workflow_is_missing_gets_one_sentence_naming_the_file(start_worker, redis_url, queue_name, comfy):
    comfy.uninstall("checkpoints", "flux1-schnell-fp8.safetensors")
    start_worker(COMFYUI_URL=comfy.url)
    data = contract_fixture("valid-render.json", jobId="comfy-render-002", backends={"visuals": "gpu"})
    job = run_async(wait_finished(redis_url, queue_name, run_async(enqueue(redis_url, queue_name, data, attempts=3))))
    error = json.loads(job.failedReason)
    assert (error["stage"], error["code"], error["retryable"]) == ("visuals", "BACKEND_UNAVAILABLE", False)
    assert "missing checkpoints/flux1-schnell-fp8.safetensors" in error["message"]
    assert job.attemptsMade == 1


def test_an_oom_is_retried_at_a_smaller_size(start_worker, redis_url, queue_name, data_dir, comfy):
    comfy.inject("oom")
    start_worker(COMFYUI_URL=comfy.url, SPINBOT_TTS_BACKEND="espeak-ng")
    job = run_async(wait_finished(redis_url, queue_name, run_async(enqueue(redis_url, queue_name, render_job(), attempts=2,
                                                                             backoff={"type": "fixed", "delay": 100})), timeout=90))
    assert job.returnvalue is not None and job.attemptsMade == 2
    assert json.loads(job.failedReason)["code"] == "OOM"  # the first attempt's reason stays on the job
    sizes = [(g["27"]["inputs"]["width"], g["27"]["inputs"]["height"]) for g in comfy.submitted if "27" in g]
    assert sizes[0] == (1280, 720) and sizes[-1] == (960, 528)  # 0.75 of the frame, in multiples of 16
    image = Image.open(FileStorage(data_dir).path_for(job.returnvalue["scenes"][0]["imageKey"]))
    assert image.size == (1280, 720)  # the upscale workflow fits the smaller picture to the frame


def test_cancelling_mid_workflow_interrupts_comfyui_and_removes_the_scenes(start_worker, redis_url, queue_name, data_dir, comfy):
    comfy.inject("hang")  # the first picture never finishes on its own
    worker = start_worker(COMFYUI_URL=comfy.url, SPINBOT_TTS_BACKEND="espeak-ng")
    job_id = run_async(enqueue(redis_url, queue_name, render_job(), attempts=3))
    deadline = time.monotonic() + 60
    while not any(e.get("backend") == "FLUX.1 schnell fp8 (ComfyUI)" and "step" in e["message"]
                  for e in progress_events(redis_url, queue_name, job_id)):
        assert worker.process.poll() is None and time.monotonic() < deadline, worker.log()
        time.sleep(0.05)
    # What GpuQueue.cancel (gpu-bridge/producer.ts) does for an active job.
    redis.Redis.from_url(redis_url).set(f"bull:{queue_name}:cancel:{job_id}", "1", ex=3600)

    job = run_async(wait_finished(redis_url, queue_name, job_id))
    assert json.loads(job.failedReason) == {"stage": "visuals", "code": "CANCELLED", "message": "Cancelled by the user.", "retryable": False}
    assert job.attemptsMade == 1
    [interrupt] = comfy.calls("/interrupt")
    assert comfy.history_entry(interrupt["prompt_id"])["status"]["status_str"] == "error"  # ComfyUI stopped that prompt
    assert FileStorage(data_dir).list(f"jobs/{job_id}/") == []  # the narration already written is removed too


def test_healthz_and_redis_report_which_gpu_workflows_are_ready(start_worker, redis_url, queue_name, comfy):
    worker = start_worker(COMFYUI_URL=comfy.url, SPINBOT_WORKER_METRICS_PORT="0")
    url = re.search(r"serving /metrics and /healthz on (http://\S+)", worker.log()).group(1)
    health = json.loads(urllib.request.urlopen(f"{url}/healthz", timeout=10).read())
    assert health["ok"] is True
    assert "visuals: FLUX.1 schnell fp8 — ready" in health["gpuWorkflows"]
    assert any(line.startswith("motion: Wan 2.2 TI2V-5B — missing ") for line in health["gpuWorkflows"])
    # The same, per stage, in Redis for the bot (a plan marks no motion scenes while motion is not ready).
    key = f"bull:{queue_name}:gpu-readiness"
    published = json.loads(redis.Redis.from_url(redis_url).get(key))
    assert published["visuals"] == {"ready": True, "line": "visuals: FLUX.1 schnell fp8 — ready"}
    assert published["motion"]["ready"] is False and published["motion"]["line"].startswith("motion: Wan 2.2 TI2V-5B — missing ")
    assert 0 < redis.Redis.from_url(redis_url).ttl(key) <= 90  # gone soon after the worker stops


def test_with_comfyui_down_the_worker_starts_and_renders_on_the_cpu(start_worker, redis_url, queue_name):
    worker = start_worker(COMFYUI_URL="http://127.0.0.1:9", SPINBOT_TTS_BACKEND="espeak-ng")
    assert "visuals: FLUX.1 schnell fp8 — ComfyUI at http://127.0.0.1:9 is not reachable" in worker.log()
    job = run_async(wait_finished(redis_url, queue_name, run_async(enqueue(redis_url, queue_name, render_job(), attempts=1)), timeout=90))
    assert job.failedReason is None, job.failedReason
    assert job.returnvalue["backends"]["upscale"]["name"].endswith("(CPU; GPU workflow Real-ESRGAN x2plus not ready)")


def test_naming_a_workflow_that_does_not_exist_stops_the_worker_with_the_names_it_has(start_worker, comfy):
    worker = start_worker(wait=False, COMFYUI_URL=comfy.url, SPINBOT_VISUALS_WORKFLOW="pictures-dalle")
    assert worker.process.wait(timeout=60) == 2
    assert "SPINBOT_VISUALS_WORKFLOW='pictures-dalle': no visuals workflow has that name " \
           "(installed: pictures-flux-schnell, pictures-sdxl; see workflows/README.md)" in worker.log()


def test_the_operator_can_pick_the_sdxl_workflow(start_worker, comfy):
    comfy.install("checkpoints", "sd_xl_base_1.0.safetensors")
    worker = start_worker(COMFYUI_URL=comfy.url, SPINBOT_VISUALS_WORKFLOW="pictures-sdxl")
    assert "visuals=SDXL base 1.0 (ComfyUI)" in worker.lines[0]


def test_a_presenter_scene_is_lip_synced_by_the_musetalk_workflow(start_worker, redis_url, queue_name, data_dir):
    # The stored presenter as a presenter_photo job leaves it: Grace Hopper's portrait (public domain), checked.
    portrait = analyse(Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).read_bytes())
    storage = FileStorage(data_dir)
    storage.put_bytes("users/test/u1/presenter.png", portrait.png())
    job = contract_fixture("valid-render.json", jobId="comfy-render-musetalk", backends={})
    job["plan"]["presenterKey"] = "users/test/u1/presenter.png"
    job["plan"]["scenes"][0]["presenter"] = "full"
    # LatentSync is ready too (it lists no model files): the faster MuseTalk is the one chosen.
    models = model_files(*(WORKFLOWS[w] for w in ("pictures-flux-schnell", "upscale-realesrgan-x2", "lipsync-musetalk")))
    with ComfyEmulator(models=models) as comfy:
        worker = start_worker(COMFYUI_URL=comfy.url, SPINBOT_TTS_BACKEND="espeak-ng")
        done = run_async(wait_finished(redis_url, queue_name, run_async(enqueue(redis_url, queue_name, job, attempts=1)), timeout=120))
        assert done.failedReason is None, done.failedReason + worker.log()
        [graph] = [g for g in comfy.submitted if any(n["class_type"] == "muse_talk_sampler" for n in g.values())]
        uploaded = comfy.input_dir / graph["1"]["inputs"]["image"]
        with Image.open(uploaded) as picture:
            assert picture.size == portrait.image.shape[1::-1]  # the checked portrait, in whose pixels the face box is
    result = done.returnvalue
    assert schema_errors("render-result", result) == []
    assert result["backends"]["lipsync"] == {"name": "MuseTalk 1.0 (ComfyUI)", "device": "gpu"}
    # The narration of scene 1 and the presenter went in; the face box holds the mouth, inside the picture.
    assert graph["2"]["inputs"]["audio"] == "spinbot/comfy-render-musetalk-narration-scene-01.wav"
    crop = graph["3"]["inputs"]
    x, y, w, h = crop["x"], crop["y"], crop["width"], crop["height"]
    for point in (13, 14, 61, 291):  # inner lips and mouth corners on mediapipe's mesh
        px, py = portrait.landmarks[point]
        assert x < px < x + w and y < py < y + h, point
    assert x + w <= portrait.image.shape[1] and y + h <= portrait.image.shape[0]
    assert (graph["16"]["inputs"]["x"], graph["16"]["inputs"]["y"], graph["12"]["inputs"]["width"], graph["14"]["inputs"]["height"]) == (x, y, w, h)
    # The scene's video: the frame size, H.264 with the narration, as long as the scene.
    video = storage.path_for(result["scenes"][0]["videoKey"])
    streams = {s["codec_type"]: s for s in json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(video)], capture_output=True, text=True, check=True).stdout)["streams"]}
    assert (streams["video"]["codec_name"], streams["video"]["width"], streams["video"]["height"]) == ("h264", 1280, 720)
    assert streams["audio"]["codec_name"] == "aac"
    assert abs(probe_seconds(video) - job["plan"]["scenes"][0]["seconds"]) < 0.3
    assert "videoKey" not in result["scenes"][1]  # no presenter asked for there
