"""The ComfyUI client's own cost per workflow run, against the protocol emulator with no model time
(step delay 0): submit + WebSocket + /history + /view + /free, and the upload a picture costs.
What a real GPU adds is the model time itself; this is what the worker adds on top of it.

  PYTHONPATH=gpu-bridge/worker .venv/bin/python bench/comfyui.py [--runs 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "gpu-bridge" / "worker"), str(ROOT / "gpu-bridge" / "worker" / "tests")]

from PIL import Image  # noqa: E402

from comfyui_emulator import ComfyEmulator, model_files  # noqa: E402
from spinbot_worker.comfyui.client import ComfyClient  # noqa: E402
from spinbot_worker.comfyui.workflows import load_workflows  # noqa: E402


async def one_picture(client: ComfyClient, workflow, seed: int) -> None:
    result = await client.run(workflow.fill(prompt="a lighthouse", seed=seed, width=1280, height=720), stage="visuals")
    for ref in result.files(workflow.output_node):
        await client.view(ref)
    await client.free()


async def bench(url: str, runs: int, picture: Path) -> dict[str, float]:
    flux = load_workflows()["pictures-flux-schnell"]
    times: dict[str, list[float]] = {"picture run (1280x720 PNG out)": [], "upload (1280x720 PNG)": []}
    async with ComfyClient(url) as client:
        await one_picture(client, flux, 0)  # warm: connections, first /object_info-free path
        for seed in range(1, runs + 1):
            started = time.perf_counter()
            await one_picture(client, flux, seed)
            times["picture run (1280x720 PNG out)"].append(time.perf_counter() - started)
            started = time.perf_counter()
            await client.upload(picture, f"bench-{seed}.png")
            times["upload (1280x720 PNG)"].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    flux = load_workflows()["pictures-flux-schnell"]
    with tempfile.TemporaryDirectory() as folder, ComfyEmulator(models=model_files(flux), step_delay=0) as comfy:
        picture = Path(folder) / "in.png"
        Image.effect_noise((1280, 720), 64).convert("RGB").save(picture)
        for name, seconds in asyncio.run(bench(comfy.url, args.runs, picture)).items():
            print(f"{name}: median {seconds * 1000:.0f} ms over {args.runs} runs")


if __name__ == "__main__":
    main()
