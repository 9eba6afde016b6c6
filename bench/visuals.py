"""Pictures and upscaling on the CPU, timed per scene (median of --runs), with the figures that say what
the model buys: crisp edges and PSNR against a full-size drawing, Real-ESRGAN vs lanczos.

  PYTHONPATH=gpu-bridge/worker .venv/bin/python bench/visuals.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gpu-bridge" / "worker"))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from spinbot_worker.backends import VisualsRequest  # noqa: E402
from spinbot_worker.backends.card_visuals import illustrated_scene  # noqa: E402
from spinbot_worker.backends.realesrgan_upscale import FRAME_MODELS, STILL_MODEL, cover, load_upscaler  # noqa: E402

PROMPTS = ["sunlight passing through a glass prism", "blue light scattering in the sky", "a rocket launching into space",
           "a cup of green tea on a table", "the history of ancient Rome", "a dog playing in the park"]


CPU_SECONDS: dict[int, float] = {}  # id(result) -> CPU seconds of its last run


def timed(runs: int, action) -> tuple[float, object]:
    """Median wall seconds and the last result; the CPU seconds (all threads) go to cpu(result).
    On a shared machine the CPU time is the steadier figure: wall time grows with the load average."""
    times, cpu_times, result = [], [], None
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = action()
        times.append(time.perf_counter() - started)
        cpu_times.append(time.process_time() - cpu_started)
    CPU_SECONDS[id(result)] = statistics.median(cpu_times)
    return statistics.median(times), result


def cpu(result: object) -> str:
    return f"{CPU_SECONDS[id(result)]:.2f} CPU s"


def crisp_edges(image: Image.Image) -> int:
    grey = np.asarray(image.convert("L"), dtype=np.int16)
    return int((np.abs(np.diff(grey, axis=1)) > 80).sum() + (np.abs(np.diff(grey, axis=0)) > 80).sum())


def psnr(a: Image.Image, b: Image.Image) -> float:
    diff = np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32)
    return float(10 * np.log10(255 ** 2 / np.mean(diff * diff)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}, median of {runs} runs")

    requests = [VisualsRequest(prompt=p, seed=0, text="On-screen text", scene=i + 1, scene_count=len(PROMPTS), width=1280,
                               height=720, reference_image_key=None, out_key="x") for i, p in enumerate(PROMPTS)]
    half, halves = timed(runs, lambda: [illustrated_scene(r, (640, 360)) for r in requests])
    full, fulls = timed(runs, lambda: [illustrated_scene(r, (1280, 720)) for r in requests])
    print(f"draw {len(requests)} scenes: {half:.2f} s ({cpu(halves)}) at 640x360, {full:.2f} s ({cpu(fulls)}) at 1280x720")

    load, _ = timed(1, lambda: load_upscaler(FRAME_MODELS[2], 2))
    print(f"load animevideov3-x2: {load:.3f} s (once per worker process)")
    original = fulls[1]
    small = original.resize((640, 360), Image.Resampling.LANCZOS)
    model = load_upscaler(FRAME_MODELS[2], 2)
    ai_time, ai = timed(runs, lambda: cover(model.run(small), 1280, 720))
    lz_time, lz = timed(runs, lambda: cover(small, 1280, 720))
    print(f"upscale 640x360 -> 1280x720: Real-ESRGAN animevideov3 x2 {ai_time:.2f} s ({cpu(ai)}), lanczos {lz_time:.3f} s ({cpu(lz)})")
    print(f"  crisp edges (steps > 80 levels): model {crisp_edges(ai)}, lanczos {crisp_edges(lz)}, full-size drawing {crisp_edges(original)}")
    print(f"  PSNR vs the full-size drawing: model {psnr(ai, original):.1f} dB, lanczos {psnr(lz, original):.1f} dB")

    still = load_upscaler(STILL_MODEL, 4)
    photo = original.resize((128, 72), Image.Resampling.LANCZOS)
    x4_time, enlarged = timed(1, lambda: still.run(photo))
    print(f"x4plus 128x72 -> 512x288 (a small photo): {x4_time:.2f} s ({cpu(enlarged)})")


if __name__ == "__main__":
    main()
