"""The CPU presenter (lip-sync stage) on this machine: seconds of compute per second of 720p video,
peak RSS (the worker process and ffmpeg), and the quality measured on the output like the tests do
(mouth opening vs the narration's loudness, r; the mouth in pauses).

    .venv/bin/python bench/presenter.py              # every case, each in a fresh process (so RSS is its own)
    .venv/bin/python bench/presenter.py photo-full   # one case, as JSON

Cases: photo-full, photo-corner, character-full, character-corner; bench/voice.py's ~30 s script spoken
by espeak-ng, 1280x720 at 30 fps. The portrait is matplotlib's sample photo of Grace
Hopper (US Navy, public domain).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "gpu-bridge" / "worker"))

from voice import SCRIPT  # noqa: E402 - the same ~30 s script the narration bench speaks

CASES = ("photo-full", "photo-corner", "character-full", "character-corner")
WIDTH, HEIGHT, FPS = 1280, 720, 30


def portrait_bytes() -> bytes:
    import matplotlib.cbook

    return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).read_bytes()


def run_case(case: str) -> dict:
    import numpy as np

    from spinbot_worker.presenter.portrait import analyse
    from spinbot_worker.presenter.render import render_clip

    who, layout = case.split("-")
    with tempfile.TemporaryDirectory() as folder:
        narration = Path(folder) / "narration.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(narration), SCRIPT], check=True)
        started = time.monotonic()
        portrait = analyse(portrait_bytes()) if who == "photo" else None
        check_seconds = time.monotonic() - started
        picture = None
        if layout == "corner":
            y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
            picture = np.stack([x * 200 // WIDTH + 30, y * 150 // HEIGHT + 60, np.full_like(x, 140)], 2).astype(np.uint8)
        out = Path(folder) / "presenter.mp4"
        started = time.monotonic()
        clip = render_clip(narration, out, portrait=portrait, width=WIDTH, height=HEIGHT, fps=FPS, layout=layout,
                           picture=picture)
        seconds = time.monotonic() - started
        # Taken before measuring: the measurement decodes frames and would count in the peak.
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        quality = measure(out, narration)
    return {
        "case": case, "video_seconds": round(clip.seconds, 2), "wall_seconds": round(seconds, 2),
        "seconds_per_video_second": round(seconds / clip.seconds, 3),
        # CPU time counts on a busy machine too (wall time then depends on what else runs).
        "cpu_seconds_worker": round(own.ru_utime + own.ru_stime, 1),
        "cpu_seconds_ffmpeg_espeak": round(children.ru_utime + children.ru_stime, 1),
        "portrait_check_seconds": round(check_seconds, 2), "stages": clip.timings,
        # The worker's own peak (a forked child's maxrss counts the parent's pages, so ffmpeg's is not told apart).
        "peak_rss_mb": round(own.ru_maxrss / 1024), **quality,
    }


def measure(video: Path, narration: Path) -> dict:
    """Mouth opening (face mesh on every 3rd output frame) against the narration's loudness."""
    import numpy as np

    from spinbot_worker.presenter.portrait import detect_faces, mesh_face
    from spinbot_worker.presenter.speech import read_wav

    every = 3
    decoder = subprocess.Popen(["ffmpeg", "-v", "error", "-i", str(video), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                               stdout=subprocess.PIPE)
    size = WIDTH * HEIGHT * 3
    openings, times, box, index, seen = [], [], None, 0, 0
    while chunk := decoder.stdout.read(size):
        if len(chunk) < size:
            break
        if index % every == 0:
            image = np.frombuffer(chunk, np.uint8).reshape(HEIGHT, WIDTH, 3)
            box = box or detect_faces(image)[0][:4]
            points = mesh_face(image, box)
            seen += 1
            if points is not None:
                openings.append(np.linalg.norm(points[14] - points[13]) / np.linalg.norm(points[152] - points[10]))
                times.append(index / FPS)
        index += 1
    decoder.wait()
    speech = read_wav(narration.read_bytes())
    half = int(0.03 * speech.rate)
    loudness = np.array([np.sqrt(np.mean(speech.samples[max(0, int(t * speech.rate) - half):int(t * speech.rate) + half] ** 2))
                         for t in times])
    openings = np.array(openings)
    quiet = loudness < 0.01 * loudness.max()
    return {"mouth_vs_loudness_r": round(float(np.corrcoef(openings, loudness)[0, 1]), 3),
            "mouth_in_pauses": round(float(np.median(openings[quiet])), 4) if quiet.any() else None,
            "mouth_speaking": round(float(np.median(openings[~quiet])), 4),
            "frames_with_face": f"{len(openings)}/{seen}"}


def main() -> None:
    if len(sys.argv) > 1:
        print(json.dumps(run_case(sys.argv[1])))
        return
    for case in CASES:
        done = subprocess.run([sys.executable, __file__, case], capture_output=True, text=True,
                              env={**os.environ, "GLOG_minloglevel": "2"})
        if done.returncode != 0:
            print(f"{case}: failed\n{done.stderr[-2000:]}")
            continue
        print(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
