"""Cropping a style's training pictures on this machine (training/crop.py): 8 phone-sized JPEGs
(4000x3000, 12 MP) with a face (matplotlib's Grace Hopper portrait, enlarged, off-centre) and 8
without, each cropped to 1024x1024 around its face or most detailed part. Prints JSON: seconds per
picture for each kind, the first call's model load, peak RSS.

    .venv/bin/python bench/train_crop.py
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import matplotlib.cbook
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "gpu-bridge" / "worker"))

from spinbot_worker.training.crop import crop_for_training  # noqa: E402

PICTURES = 8


def main() -> None:
    rng = np.random.default_rng(0)
    with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as photo:
        portrait = photo.convert("RGB").resize((1536, 1800), Image.Resampling.LANCZOS)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        faces, scenes = [], []
        for n in range(PICTURES):
            picture = Image.fromarray(rng.integers(60, 200, (3000, 4000, 3), dtype=np.uint8))
            picture.paste(portrait, (300 + 250 * n, 600))
            faces.append(work / f"face-{n}.jpg")
            picture.save(faces[-1], quality=90)
            scene = np.full((3000, 4000, 3), 120, np.uint8)
            scene[500:2500, 200 + 250 * n:2200 + 250 * n] = rng.integers(0, 255, (2000, 2000, 3), dtype=np.uint8)
            scenes.append(work / f"scene-{n}.jpg")
            Image.fromarray(scene).save(scenes[-1], quality=90)
        started = time.perf_counter()
        crop_for_training(faces[0], work / "warm.png")  # loads mediapipe's detector once per process
        first = time.perf_counter() - started
        timings = {}
        for kind, paths in (("face", faces), ("detail", scenes)):
            started = time.perf_counter()
            kinds = [crop_for_training(path, work / f"out-{path.stem}.png").around for path in paths]
            timings[kind] = {"seconds_per_picture": round((time.perf_counter() - started) / len(paths), 3), "cropped_around": sorted(set(kinds))}
    print(json.dumps({"pictures": "4000x3000 JPEG -> 1024x1024 PNG", "first_call_seconds": round(first, 2), **timings,
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}, indent=2))


if __name__ == "__main__":
    main()
