"""The presenter on CPU, measured on its output the way a viewer would judge it: the mouth (found by
mediapipe's face mesh in the encoded frames) opens with the voice and shuts in pauses, the eyes and
face outline hold still apart from the intended head motion, and bad photos are refused with nothing
stored.

The portrait is Grace Hopper's official US Navy photograph (a work of the US federal government:
public domain), which matplotlib ships as sample data; matplotlib comes with mediapipe.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import struct
import subprocess
import zlib
from pathlib import Path

import cv2
import matplotlib.cbook
import numpy as np
import pytest
from PIL import Image

from spinbot_worker.backends import build_registry
from spinbot_worker.backends.base import LipsyncRequest, StageContext
from spinbot_worker.contracts import schema_errors
from spinbot_worker.errors import StageFailure
from spinbot_worker.pipeline import handle_job
from spinbot_worker.presenter.backend import CpuPresenter, store_portrait
from spinbot_worker.presenter.character import SVG_PATH
from spinbot_worker.presenter.face_rig import Pose
from spinbot_worker.presenter.portrait import NO_FACE, PortraitRejected, analyse, detect_faces, mesh_face
from spinbot_worker.presenter.render import build_scene
from spinbot_worker.presenter.speech import VISEMES
from spinbot_worker.runtime import JobRuntime
from spinbot_worker.storage import FileStorage

FPS, WIDTH, HEIGHT = 30, 1280, 720
PAUSE = (4.0, 5.4)  # seconds of silence inside the narration
# Face-mesh points whose surroundings must hold still apart from the head's sway (not the chin: the jaw moves).
STILL_FEATURES = {"right eye corner": 33, "left eye corner": 263, "right brow": 105, "left brow": 334,
                  "right face edge": 234, "left face edge": 454, "forehead": 10}


def portrait_bytes() -> bytes:
    return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).read_bytes()


def speak(text: str, path: Path) -> None:
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text], check=True, capture_output=True)


def wav_samples(path: Path) -> tuple[np.ndarray, int]:
    import wave

    with wave.open(str(path), "rb") as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.float32) / 32768
    return samples, rate


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    import wave

    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


@pytest.fixture(scope="module")
def narration(tmp_path_factory) -> Path:
    """A 10 s narration: two stretches of speech around a 1.4 s pause (espeak-ng, as the worker's fallback voice)."""
    folder = tmp_path_factory.mktemp("narration")
    first, second = folder / "first.wav", folder / "second.wav"
    speak("Rivers carve valleys over thousands of years, moving sand and stones towards the sea.", first)
    speak("Every flood moves the bed a little, and the valley grows wider and deeper.", second)
    a, rate = wav_samples(first)
    b, _ = wav_samples(second)
    a = a[: int(PAUSE[0] * rate)]
    a = np.concatenate([a, np.zeros(int(PAUSE[0] * rate) - len(a), np.float32)])
    total = np.concatenate([a, np.zeros(int((PAUSE[1] - PAUSE[0]) * rate), np.float32), b])
    total = np.concatenate([total, np.zeros(max(0, int(10 * rate) - len(total)), np.float32)])[: int(10 * rate)]
    path = folder / "narration.wav"
    write_wav(path, total, rate)
    return path


def loudness_at_frames(path: Path, frames: int) -> np.ndarray:
    """RMS of the narration in a 60 ms window around each video frame's time."""
    samples, rate = wav_samples(path)
    half = int(0.03 * rate)
    centres = (np.arange(frames) / FPS * rate).astype(int)
    return np.array([np.sqrt(np.mean(samples[max(0, c - half):c + half] ** 2)) if c < len(samples) else 0.0
                     for c in centres])


def decode_frames(video: Path, every: int) -> tuple[list[np.ndarray], list[int]]:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         check=True, capture_output=True).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, HEIGHT, WIDTH, 3)
    indices = list(range(0, len(frames), every))
    return [frames[i] for i in indices], indices


def probe(video: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(video)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def measure_faces(frames: list[np.ndarray]) -> list[np.ndarray | None]:
    box = None
    found = []
    for frame in frames:
        points = mesh_face(frame, box)
        found.append(points)
        if points is not None and box is None:
            x0, y0 = points.min(axis=0)
            x1, y1 = points.max(axis=0)
            box = (int(x0), int(y0), int(x1 - x0), int(y1 - y0))
    return found


def mouth_opening(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[14] - points[13]) / np.linalg.norm(points[152] - points[10]))


def render_presenter(tmp_path: Path, narration: Path, image_key: str | None, layout: str = "full",
                     background: bytes | None = None, seconds: float | None = None) -> tuple[Path, FileStorage]:
    storage = FileStorage(tmp_path / "store")
    storage.put_file("jobs/j1/scene-01.wav", narration)
    if background is not None:
        storage.put_bytes("jobs/j1/scene-01.png", background)
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    request = LipsyncRequest(image_key=image_key, audio_key="jobs/j1/scene-01.wav", out_key="jobs/j1/presenter-01.mp4",
                             width=WIDTH, height=HEIGHT, fps=FPS, layout=layout,
                             background_key="jobs/j1/scene-01.png" if background is not None else None,
                             seconds=seconds)
    CpuPresenter().run(request, StageContext(job_id="j1", attempt=1, storage=storage, workdir=workdir))
    video = tmp_path / "presenter.mp4"
    storage.get_to_file(request.out_key, video)
    return video, storage


def check_speaks_the_narration(video: Path, narration: Path, every: int) -> dict:
    """The shared acceptance check: the mouth's opening follows the narration's loudness and is shut in the pause."""
    info = probe(video)
    streams = {stream["codec_type"]: stream for stream in info["streams"]}
    assert (streams["video"]["width"], streams["video"]["height"]) == (WIDTH, HEIGHT)
    assert streams["video"]["r_frame_rate"] == f"{FPS}/1" and "audio" in streams
    assert abs(float(info["format"]["duration"]) - 10.0) < 0.15

    frames, indices = decode_frames(video, every)
    faces = measure_faces(frames)
    assert sum(face is not None for face in faces) >= 0.95 * len(faces), "the face mesh lost the face in the video"
    kept = [(i, face) for i, face in zip(indices, faces) if face is not None]
    opening = np.array([mouth_opening(face) for _, face in kept])
    loudness = loudness_at_frames(narration, max(indices) + 1)[[i for i, _ in kept]]
    r = float(np.corrcoef(opening, loudness)[0, 1])
    assert r >= 0.5, f"mouth opening follows the narration's loudness with r={r:.2f} (want >= 0.5)"

    times = np.array([i for i, _ in kept]) / FPS
    pause = (times > PAUSE[0] + 0.25) & (times < PAUSE[1] - 0.15)
    speaking = loudness > np.percentile(loudness, 60)
    assert pause.sum() >= 5
    shut, spoken = float(np.median(opening[pause])), float(np.median(opening[speaking]))
    assert shut < 0.02 and shut < spoken / 3, f"mouth in the pause {shut:.3f} vs speaking {spoken:.3f}"
    return {"r": r, "shut": shut, "spoken": spoken, "frames": frames}


def test_a_portrait_speaks_a_10_s_scene(tmp_path, narration):
    storage = FileStorage(tmp_path / "store")
    portrait = store_portrait(storage, "users/console/u1/presenter.png", portrait_bytes())
    assert portrait.faces_found == 1 and portrait.note == ""
    # The stored portrait is what the stage reads (the same store the upload wrote to).
    storage.put_file("jobs/j1/scene-01.wav", narration)
    workdir = tmp_path / "work"
    workdir.mkdir()
    request = LipsyncRequest(image_key="users/console/u1/presenter.png", audio_key="jobs/j1/scene-01.wav",
                             out_key="jobs/j1/presenter-01.mp4", width=WIDTH, height=HEIGHT, fps=FPS)
    CpuPresenter().run(request, StageContext(job_id="j1", attempt=1, storage=storage, workdir=workdir))
    video = tmp_path / "presenter.mp4"
    storage.get_to_file(request.out_key, video)

    measured = check_speaks_the_narration(video, narration, every=2)

    # Eyes and face outline: followed from frame to frame by template matching (the face mesh's own
    # landmarks wander by a few pixels whenever the mouth moves, so they cannot judge this).
    # The intended head motion is slow: its frame-to-frame acceleration stays well under a pixel.
    frames = measured["frames"]
    first = mesh_face(frames[0])
    face_height = float(np.linalg.norm(first[152] - first[10]))
    gray = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32) for frame in frames]
    for name, point in STILL_FEATURES.items():
        path = track_patch(gray, *first[point].astype(int))
        jerk = np.sqrt((np.diff(path, n=2, axis=0) ** 2).sum(axis=1))
        assert np.percentile(jerk, 95) < 1.5 and jerk.max() < 3.0, \
            f"{name} jitters: {np.percentile(jerk, 95):.2f} px (95th percentile), {jerk.max():.2f} px at most"
        travel = float(np.ptp(path, axis=0).max())
        assert 1.0 < travel < 0.08 * face_height, f"{name} travels {travel:.1f} px: the head should sway a little"


def track_patch(gray: list[np.ndarray], x: int, y: int, radius: int = 16, search: int = 14) -> np.ndarray:
    """Where the patch around (x, y) of the first frame is in every frame (sub-pixel template matching)."""
    template = gray[0][y - radius:y + radius, x - radius:x + radius]

    def vertex(left: float, centre: float, right: float) -> float:
        curvature = left - 2 * centre + right
        return 0.0 if curvature == 0 else 0.5 * (left - right) / curvature

    path = []
    for frame in gray:
        area = frame[y - radius - search:y + radius + search, x - radius - search:x + radius + search]
        score = cv2.matchTemplate(area, template, cv2.TM_CCOEFF_NORMED)
        _, _, _, (bx, by) = cv2.minMaxLoc(score)
        dx = vertex(*score[by, bx - 1:bx + 2]) if 0 < bx < score.shape[1] - 1 else 0.0
        dy = vertex(*score[by - 1:by + 2, bx]) if 0 < by < score.shape[0] - 1 else 0.0
        path.append((bx + dx - search, by + dy - search))
    return np.array(path)


def test_the_built_in_character_speaks_a_scene(tmp_path, narration):
    video, _ = render_presenter(tmp_path, narration, None)
    check_speaks_the_narration(video, narration, every=3)


def test_corner_presenter_is_cut_out_over_the_scene_picture(tmp_path, narration):
    scene = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    scene[..., 0] = np.linspace(20, 230, WIDTH, dtype=np.uint8)[None, :]
    scene[..., 1] = np.linspace(200, 60, HEIGHT, dtype=np.uint8)[:, None]
    scene[..., 2] = 120
    buffer = io.BytesIO()
    Image.fromarray(scene).save(buffer, format="PNG")
    storage = FileStorage(tmp_path / "store")
    store_portrait(storage, "users/console/u1/presenter.png", portrait_bytes())
    short = tmp_path / "short.wav"
    samples, rate = wav_samples(narration)
    write_wav(short, samples[: 2 * rate], rate)
    storage.put_file("jobs/j1/scene-01.wav", short)
    storage.put_bytes("jobs/j1/scene-01.png", buffer.getvalue())
    workdir = tmp_path / "work"
    workdir.mkdir()
    request = LipsyncRequest(image_key="users/console/u1/presenter.png", audio_key="jobs/j1/scene-01.wav",
                             out_key="jobs/j1/presenter-01.mp4", width=WIDTH, height=HEIGHT, fps=FPS,
                             layout="corner", background_key="jobs/j1/scene-01.png")
    CpuPresenter().run(request, StageContext(job_id="j1", attempt=1, storage=storage, workdir=workdir))
    video = tmp_path / "corner.mp4"
    storage.get_to_file(request.out_key, video)
    frames, _ = decode_frames(video, 30)
    frame = frames[1].astype(np.int16)
    difference = np.abs(frame - scene).mean(axis=2)
    # The scene's picture everywhere but the lower right corner...
    assert difference[:, : WIDTH // 2].mean() < 4 and difference[: HEIGHT // 3].mean() < 4
    # ...where the presenter stands, without the photo's own background (flag and sky) around her.
    presenter = difference[HEIGHT // 2:, WIDTH - WIDTH // 3:]
    assert presenter.mean() > 25
    found = detect_faces(frames[1])
    assert len(found) == 1
    face = mesh_face(frames[1], found[0][:4])
    assert face is not None and face[:, 0].min() > WIDTH * 0.6 and face[:, 1].min() > HEIGHT * 0.4
    flag_side = difference[HEIGHT - HEIGHT // 5:, WIDTH - WIDTH // 3: WIDTH - WIDTH // 3 + 12]
    assert flag_side.mean() < 12, "the photo's background was not cut away at the presenter's side"


def no_face_picture() -> bytes:
    y, x = np.mgrid[0:480, 0:640]
    picture = np.stack([x * 255 // 640, y * 255 // 480, np.full_like(x, 90)], axis=2).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_photo_without_a_face_is_refused_and_nothing_is_stored(tmp_path):
    storage = FileStorage(tmp_path / "store")
    with pytest.raises(PortraitRejected) as caught:
        store_portrait(storage, "users/console/u1/presenter.png", no_face_picture())
    assert str(caught.value) == NO_FACE
    assert storage.list("") == []


def test_the_stage_refuses_a_stored_picture_without_a_face_and_writes_no_video(tmp_path, narration):
    storage = FileStorage(tmp_path / "store")
    storage.put_bytes("uploads/not-a-face.png", no_face_picture())
    storage.put_file("jobs/j1/scene-01.wav", narration)
    request = LipsyncRequest(image_key="uploads/not-a-face.png", audio_key="jobs/j1/scene-01.wav",
                             out_key="jobs/j1/presenter-01.mp4")
    with pytest.raises(StageFailure) as caught:
        CpuPresenter().run(request, StageContext(job_id="j1", attempt=1, storage=storage, workdir=tmp_path))
    assert (caught.value.code, caught.value.retryable, caught.value.message) == ("BAD_INPUT", False, NO_FACE)
    assert not storage.exists(request.out_key)


def test_several_faces_take_the_largest_and_say_so(tmp_path):
    photo = Image.open(io.BytesIO(portrait_bytes())).convert("RGB")
    group = Image.new("RGB", (photo.width * 2 + 40, photo.height), (200, 205, 210))
    group.paste(photo.resize((photo.width * 2 // 3, photo.height * 2 // 3)), (0, photo.height // 3))
    group.paste(photo, (photo.width + 40, 0))
    buffer = io.BytesIO()
    group.save(buffer, format="JPEG", quality=92)
    storage = FileStorage(tmp_path / "store")
    portrait = store_portrait(storage, "users/console/u1/presenter.png", buffer.getvalue())
    assert portrait.faces_found == 2
    assert portrait.note == "I found 2 faces in that photo and used the largest one."
    assert portrait.face_box[0] > photo.width  # the full-size copy, on the right
    assert storage.list("") == ["users/console/u1/presenter.png"]


def test_a_face_under_96_pixels_is_refused_with_the_reason(tmp_path):
    photo = Image.open(io.BytesIO(portrait_bytes())).convert("RGB")
    small = photo.resize((photo.width * 2 // 5, photo.height * 2 // 5))  # the face is ~80 px across
    canvas = Image.new("RGB", (640, 480), (200, 205, 210))
    canvas.paste(small, (200, 150))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    storage = FileStorage(tmp_path / "store")
    with pytest.raises(PortraitRejected) as caught:
        store_portrait(storage, "users/console/u1/presenter.png", buffer.getvalue())
    assert "too small" in str(caught.value) and "at least 96" in str(caught.value)
    assert storage.list("") == []


def declared_png(width: int, height: int) -> bytes:
    """A PNG header declaring width x height with no pixel data: a decompression bomb's calling card."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("width, height, words", [
    (9000, 9000, "too large (9000x9000 pixels)"),  # 81 MP: over our limit, under Pillow's own bomb guard
    (13000, 400, "too large (13000x400 pixels)"),  # a side over the limit
    (30000, 30000, "too large"),  # so large that Pillow refuses it at the header
])
def test_an_oversized_image_is_refused_before_decoding(tmp_path, width, height, words):
    storage = FileStorage(tmp_path / "store")
    with pytest.raises(PortraitRejected) as caught:
        store_portrait(storage, "users/console/u1/presenter.png", declared_png(width, height))
    assert words in str(caught.value) and "megapixels" in str(caught.value)
    assert storage.list("") == []


@pytest.mark.parametrize("width, height", [(720, 1280), (720, 720)])
@pytest.mark.parametrize("layout", ["full", "corner"])
@pytest.mark.parametrize("who", ["photo", "character"])
def test_every_frame_shape_places_the_presenter_inside_the_frame(width, height, layout, who):
    portrait = analyse(portrait_bytes()) if who == "photo" else None
    picture = np.full((height, width, 3), 90, np.uint8)
    rig, composer = build_scene(portrait, width, height, layout, picture if layout == "corner" else None)
    frame = composer.frame(*rig.render(Pose(open=0.6, head_roll=2.0)))
    assert frame.shape == (height, width, 3)
    found = detect_faces(frame)
    assert found, "the presenter's face is not in the frame"
    x, y, w, h, _ = found[0]
    assert 0 <= x and x + w <= width and 0 <= y and y + h <= height
    if layout == "corner":
        changed = np.nonzero(np.abs(frame.astype(int) - picture).sum(axis=2).max(axis=0) > 30)[0]
        assert changed.min() > width * 0.5, "a corner presenter keeps to the right half of the frame"


def photo_job(**changes) -> dict:
    job = {"kind": "presenter_photo", "contractVersion": 1, "jobId": "presenter-photo-1",
           "requestedBy": {"platform": "test", "userId": "u1"},
           "imageKey": "uploads/test/u1/photo.jpg", "presenterKey": "users/test/u1/presenter.png"}
    return {**job, **changes}


def run_photo_job(storage: FileStorage, tmp_path: Path, job: dict) -> tuple[dict, list[dict]]:
    events: list[dict] = []

    async def collect(event):
        events.append(event)

    rt = JobRuntime(job_id=job["jobId"], storage=storage, registry=build_registry(), workdir=tmp_path,
                    send_progress=collect, attempt=1)
    return asyncio.run(handle_job(job, rt)), events


def test_the_presenter_photo_job_stores_the_checked_portrait_and_drops_the_upload(tmp_path):
    storage = FileStorage(tmp_path / "store")
    storage.put_bytes("uploads/test/u1/photo.jpg", portrait_bytes())
    result, events = run_photo_job(storage, tmp_path, photo_job())
    assert schema_errors("presenter-photo-result", result) == []
    assert (result["facesFound"], result["note"]) == (1, "")
    assert storage.list("") == ["users/test/u1/presenter.png"]  # the upload is gone, the portrait kept
    with storage.open("users/test/u1/presenter.png") as stored:
        assert Image.open(stored).size == (512, 600)
    assert events[-1]["percent"] == 100 and all(schema_errors("progress", e) == [] for e in events)


def test_the_presenter_photo_job_refuses_a_photo_without_a_face_and_stores_nothing(tmp_path):
    storage = FileStorage(tmp_path / "store")
    storage.put_bytes("uploads/test/u1/photo.jpg", no_face_picture())
    with pytest.raises(StageFailure) as caught:
        run_photo_job(storage, tmp_path, photo_job())
    assert (caught.value.stage, caught.value.code, caught.value.retryable) == ("lipsync", "BAD_INPUT", False)
    assert caught.value.message == NO_FACE
    assert storage.list("") == []


def test_the_built_in_character_has_one_mouth_layer_per_viseme_and_its_licence():
    svg = SVG_PATH.read_text(encoding="utf-8")
    layers = re.findall(r'<g id="mouth-([a-z_]+)"', svg)
    assert sorted(layers) == sorted(VISEMES) and 8 <= len(layers) <= 12
    readme = (SVG_PATH.parent / "README.md").read_text(encoding="utf-8")
    assert "CC0 1.0" in readme and "drawn for this project" in readme


def test_a_scene_longer_than_its_narration_keeps_the_presenter_listening_with_the_mouth_shut(tmp_path, narration):
    samples, rate = wav_samples(narration)
    short = tmp_path / "short.wav"
    write_wav(short, samples[: 2 * rate], rate)  # two seconds of speech for a four-second scene
    video, _ = render_presenter(tmp_path, short, None, seconds=4.0)
    assert abs(float(probe(video)["format"]["duration"]) - 4.0) < 0.1
    frames, indices = decode_frames(video, 15)
    box = detect_faces(frames[0])[0][:4]
    after = [mouth_opening(mesh_face(frame, box)) for frame, index in zip(frames, indices) if index / FPS > 2.4]
    assert len(after) >= 3 and max(after) < 0.02
