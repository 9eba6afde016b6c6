"""Preflight: one line per workflow saying whether it can run on this ComfyUI, and if not, what is missing."""

import asyncio
import json
import os
import shutil
import subprocess
import sys

import pytest

from comfyui_emulator import ComfyEmulator, model_files
from spinbot_worker.comfyui.client import ComfyClient
from spinbot_worker.comfyui.preflight import choose, preflight
from spinbot_worker.comfyui.workflows import SHIPPED_DIR, load_workflows
from support import REPO_ROOT, WORKER_DIR

WORKFLOWS = load_workflows([SHIPPED_DIR])
ALL_MODELS = model_files(*WORKFLOWS.values())


def lines(url: str, workflows=WORKFLOWS, commercial_safe: bool = False) -> dict[str, str]:
    async def go():
        async with ComfyClient(url) as client:
            return await preflight(client, workflows, commercial_safe)
    return {r.workflow.id: r.line() for r in asyncio.run(go())}


def test_everything_installed_on_a_16_gib_card_is_ready():
    with ComfyEmulator(models=ALL_MODELS) as comfy:
        report = lines(comfy.url)
    assert report == {w.id: f"{w.stage}: {w.name} — ready" for w in WORKFLOWS.values() if w.stage not in ("tts", "lipsync")} | {
        "tts-chatterbox-clone": "tts: Chatterbox — ready (unchecked: t3_cfg.safetensors, s3gen.safetensors, "
                                "ve.safetensors, tokenizer.json, fetched by the node on first use)",
        "lipsync-latentsync": "lipsync: LatentSync 1.5 — ready (unchecked: latentsync_unet.pt, whisper/tiny.pt, fetched by the node on first use)",
        "lipsync-musetalk": "lipsync: MuseTalk 1.0 — ready (unchecked: pytorch_model.bin; tiny.pt, fetched by the node on first use)"}


def test_musetalk_without_its_vae_names_the_file_and_its_folder_and_lipsync_falls_to_latentsync():
    models = {folder: [f for f in files if f != "vae-ft-mse-840000-ema-pruned.safetensors"] for folder, files in ALL_MODELS.items()}

    async def go(url):
        async with ComfyClient(url) as client:
            return await preflight(client, WORKFLOWS)

    with ComfyEmulator(models=models) as comfy:
        results = asyncio.run(go(comfy.url))
    report = {r.workflow.id: r.line() for r in results}
    assert report["lipsync-musetalk"] == ("lipsync: MuseTalk 1.0 — missing vae/vae-ft-mse-840000-ema-pruned.safetensors "
                                          "(download page https://huggingface.co/stabilityai/sd-vae-ft-mse-original)")
    assert report["lipsync-latentsync"].startswith("lipsync: LatentSync 1.5 — ready")  # one line per lip-sync workflow
    assert choose(results, "lipsync").workflow.id == "lipsync-latentsync"
    with ComfyEmulator(models=ALL_MODELS) as comfy:
        assert choose(asyncio.run(go(comfy.url)), "lipsync").workflow.id == "lipsync-musetalk"  # the faster one, when ready


def test_a_missing_model_a_missing_custom_node_and_too_little_vram_are_each_named():
    models = {folder: list(files) for folder, files in ALL_MODELS.items()}
    models["diffusion_models"].remove("wan2.2_ti2v_5B_fp16.safetensors")
    with ComfyEmulator(models=models, vram_gib=8) as comfy:
        del comfy.base_info["FL_ChatterboxTTSNode"]
        report = lines(comfy.url)
    assert report["motion-wan22-ti2v-5b"] == (
        "motion: Wan 2.2 TI2V-5B — missing diffusion_models/wan2.2_ti2v_5B_fp16.safetensors "
        "(download page https://huggingface.co/Comfy-Org/Wan_2.2_ComfyUI_Repackaged); "
        "needs 12 GiB of GPU memory, NVIDIA GeForce RTX 5070 Ti has 8.0 GiB")
    assert report["tts-chatterbox-clone"] == (
        "tts: Chatterbox — missing nodes FL_ChatterboxTTSNode (install the custom node packs pinned in deploy/comfyui.Dockerfile)")
    assert report["pictures-sdxl"] == "visuals: SDXL base 1.0 — ready"  # 8 GiB is what it asks for
    assert report["upscale-realesrgan-x2"] == "upscale: Real-ESRGAN x2plus — ready"


def test_commercial_safe_mode_excludes_a_non_commercial_workflow(tmp_path):
    # A user's workflow: F5-TTS-style weights under CC-BY-NC (code MIT): fine privately, not for sale.
    mine = tmp_path / "tts-noncommercial"
    shutil.copytree(SHIPPED_DIR / "tts-chatterbox-clone", mine)
    manifest = json.loads((mine / "manifest.json").read_text())
    manifest["name"] = "My NC voice"
    manifest["models"][0].update(licence="CC-BY-NC-4.0", commercialUse="no")
    (mine / "manifest.json").write_text(json.dumps(manifest))
    workflows = load_workflows([SHIPPED_DIR, tmp_path])
    with ComfyEmulator(models=ALL_MODELS) as comfy:
        normal = lines(comfy.url, workflows)
        safe = lines(comfy.url, workflows, commercial_safe=True)
    assert normal["tts-noncommercial"].startswith("tts: My NC voice — ready")
    assert safe["tts-noncommercial"].startswith("tts: My NC voice — excluded: licence — ")
    assert "(CC-BY-NC-4.0) not cleared for commercial use" in safe["tts-noncommercial"]
    assert safe["pictures-flux-schnell"] == "visuals: FLUX.1 schnell fp8 — ready"
    # Both lip-sync workflows' weights are cleared for commercial use (MuseTalk, sd-vae-ft-mse, Whisper: MIT; LatentSync: Apache-2.0).
    assert safe["lipsync-musetalk"].startswith("lipsync: MuseTalk 1.0 — ready")
    assert safe["lipsync-latentsync"].startswith("lipsync: LatentSync 1.5 — ready")


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SPINBOT_") and k != "COMFYUI_URL"}
    full_env.update(PYTHONPATH=str(WORKER_DIR), **env)
    return subprocess.run([sys.executable, "-m", "spinbot_worker.comfyui", *args], cwd=REPO_ROOT, env=full_env,
                          capture_output=True, text=True, timeout=60)


def test_the_doctor_command_prints_the_gpu_and_a_line_per_workflow():
    models = {k: v for k, v in ALL_MODELS.items() if k != "upscale_models"}
    with ComfyEmulator(models=models) as comfy:
        done = run_cli(COMFYUI_URL=comfy.url, SPINBOT_COMMERCIAL_SAFE="true")
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[0] == f"ComfyUI at {comfy.url}: ComfyUI 0.33.0, NVIDIA GeForce RTX 5070 Ti, 16.0 GiB (commercial-safe mode)"
    assert "upscale: Real-ESRGAN x2plus — missing upscale_models/RealESRGAN_x2plus.pth (download page https://github.com/xinntao/Real-ESRGAN/releases/tag/v0.2.1)" in out
    assert len(out) == 1 + len(WORKFLOWS)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9"])
def test_the_doctor_says_when_comfyui_is_down_or_not_configured(url):
    done = run_cli("--url", url)
    assert done.returncode == 0
    assert done.stdout.startswith(f"ComfyUI at {url}: not reachable")
    assert f"visuals: FLUX.1 schnell fp8 — ComfyUI at {url} is not reachable" in done.stdout
    off = run_cli()
    assert off.stdout.strip() == "GPU stages: off (COMFYUI_URL is not set); every stage runs on its CPU backend."


def test_a_ui_format_workflow_in_the_users_folder_is_refused_with_how_to_export_and_the_rest_still_checked(tmp_path):
    mine = tmp_path / "my-pictures"
    mine.mkdir()
    (mine / "workflow.json").write_text(json.dumps({"last_node_id": 3, "nodes": [{"id": 1, "type": "KSampler"}], "links": []}))
    (mine / "manifest.json").write_text((SHIPPED_DIR / "pictures-sdxl" / "manifest.json").read_text())
    with ComfyEmulator(models=ALL_MODELS) as comfy:
        done = run_cli(COMFYUI_URL=comfy.url, SPINBOT_WORKFLOWS_DIR=str(tmp_path))
    assert done.returncode == 0, done.stderr
    refusal = done.stdout.splitlines()[-1]
    assert refusal.startswith("my-pictures: refused — ") and "UI format" in refusal and "Export (API)" in refusal
    assert "visuals: FLUX.1 schnell fp8 — ready" in done.stdout


def test_the_shared_models_folder_answers_for_files_comfyui_cannot_list(tmp_path):
    # SPINBOT_MODELS_DIR as docker-compose.yml mounts it: ComfyUI's models tree in comfyui/.
    tree = tmp_path / "models" / "comfyui"
    for path in ("chatterbox/t3_cfg.safetensors", "chatterbox/s3gen.safetensors", "chatterbox/ve.safetensors",
                 "chatterbox/tokenizer.json", "musetalk/musetalk/pytorch_model.bin"):
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_bytes(b"weights")
    (tree / "checkpoints").mkdir()
    (tree / "checkpoints" / "flux1-schnell-fp8.safetensors").write_bytes(b"weights")  # there, but this ComfyUI does not see it
    models = {k: [f for f in v if f != "flux1-schnell-fp8.safetensors"] for k, v in ALL_MODELS.items()}
    with ComfyEmulator(models=models) as comfy:
        done = run_cli(COMFYUI_URL=comfy.url, SPINBOT_MODELS_DIR=str(tmp_path / "models"))
    assert done.returncode == 0, done.stderr
    assert "tts: Chatterbox — ready" in done.stdout.splitlines()  # the node's own weights found: nothing left unchecked
    # MuseTalk's UNet (its loader fetches it into models/musetalk) found there; only its Whisper stays unchecked.
    assert "lipsync: MuseTalk 1.0 — ready (unchecked: tiny.pt, fetched by the node on first use)" in done.stdout.splitlines()
    assert (f"visuals: FLUX.1 schnell fp8 — missing checkpoints/flux1-schnell-fp8.safetensors (it is in "
            f"{tree}/checkpoints/flux1-schnell-fp8.safetensors, but this ComfyUI does not list it: does it use {tree} "
            "as its models folder?)") in done.stdout.splitlines()


def test_a_models_folder_that_does_not_exist_or_a_bad_address_is_named_and_nothing_is_checked(tmp_path):
    done = run_cli(COMFYUI_URL="http://127.0.0.1:9", SPINBOT_MODELS_DIR=str(tmp_path / "nowhere"))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith(f"SPINBOT_MODELS_DIR {tmp_path / 'nowhere'} does not exist (the folder of model weights")
    done = run_cli(COMFYUI_URL="comfyui:8188")
    assert (done.returncode, done.stderr.strip()) == (2, "COMFYUI_URL must be an http:// or https:// address, "
                                                          "e.g. http://comfyui:8188, got 'comfyui:8188'")


def test_a_password_in_comfyuis_address_is_never_printed():
    done = run_cli("--url", "http://admin:s3cret@127.0.0.1:9")
    assert "s3cret" not in done.stdout + done.stderr
    assert done.stdout.startswith("ComfyUI at http://admin:***@127.0.0.1:9: not reachable")
