"""Video and speech stages through ComfyUI workflows (emulated): lip-sync into a playable MP4 with the
narration, a motion clip from a picture, a cloned voice from a stored reference sample."""

import asyncio
import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from comfyui_emulator import ComfyEmulator, model_files
from spinbot_worker.backends.base import LipsyncRequest, StageContext, TtsRequest
from spinbot_worker.comfyui.backends import ComfyEngine, ComfyLipsync, ComfyTts
from spinbot_worker.comfyui.client import ComfyClient
from spinbot_worker.comfyui.workflows import SHIPPED_DIR, load_workflows
from spinbot_worker.errors import StageFailure
from spinbot_worker.presenter.portrait import NO_FACE
from spinbot_worker.storage import FileStorage
from support import mean_volume_db, probe_seconds

WORKFLOWS = load_workflows([SHIPPED_DIR])


def streams(path: Path) -> dict[str, dict]:
    done = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)], capture_output=True, text=True, check=True)
    return {s["codec_type"]: s for s in json.loads(done.stdout)["streams"]}


@pytest.fixture
def comfy():
    with ComfyEmulator(models=model_files(*WORKFLOWS.values())) as emulator:
        yield emulator


@pytest.fixture
def ctx(tmp_path) -> StageContext:
    workdir = tmp_path / "work"
    workdir.mkdir()
    return StageContext(job_id="media-job-1", attempt=1, storage=FileStorage(tmp_path / "data"), workdir=workdir)


def speak(path: Path, text: str) -> Path:
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True)
    return path


def test_lipsync_makes_a_frame_sized_mp4_of_the_presenter_speaking_the_whole_narration(comfy, ctx, tmp_path):
    Image.new("RGB", (512, 512), (180, 140, 120)).save(tmp_path / "face.png")
    ctx.storage.put_file("users/test/u1/presenter.png", tmp_path / "face.png")
    ctx.storage.put_file("jobs/media-job-1/scene-01.wav", speak(tmp_path / "n.wav", "Welcome to the show, I am your host today."))
    engine = ComfyEngine(comfy.url, {"lipsync-latentsync": WORKFLOWS["lipsync-latentsync"]})
    backend = ComfyLipsync(engine, "lipsync")
    assert backend.available() is None and backend.name == "LatentSync 1.5 (ComfyUI)"

    backend.run(LipsyncRequest("users/test/u1/presenter.png", "jobs/media-job-1/scene-01.wav", "jobs/media-job-1/scene-01.mp4",
                               width=1280, height=720, fps=30), ctx)
    video = ctx.storage.path_for("jobs/media-job-1/scene-01.mp4")
    found = streams(video)
    assert (found["video"]["codec_name"], found["video"]["width"], found["video"]["height"]) == ("h264", 1280, 720)
    assert found["video"]["r_frame_rate"] == "30/1" and found["audio"]["codec_name"] == "aac"
    assert abs(probe_seconds(video) - probe_seconds(tmp_path / "n.wav")) < 0.3
    graph = comfy.submitted[0]
    assert graph["1"]["inputs"]["image"] == "spinbot/media-job-1-presenter-presenter.png"
    assert graph["2"]["inputs"]["audio"] == "spinbot/media-job-1-narration-scene-01.wav"


def test_lipsync_in_a_corner_over_the_scene_lasts_the_whole_scene(comfy, ctx, tmp_path):
    Image.new("RGB", (512, 512), (180, 140, 120)).save(tmp_path / "face.png")
    Image.new("RGB", (1280, 720), (20, 160, 60)).save(tmp_path / "scene.png")
    ctx.storage.put_file("users/test/u1/presenter.png", tmp_path / "face.png")
    ctx.storage.put_file("jobs/media-job-1/scene-02.png", tmp_path / "scene.png")
    ctx.storage.put_file("jobs/media-job-1/scene-02.wav", speak(tmp_path / "n.wav", "Short line."))
    backend = ComfyLipsync(ComfyEngine(comfy.url, {"lipsync-latentsync": WORKFLOWS["lipsync-latentsync"]}), "lipsync")
    backend.run(LipsyncRequest("users/test/u1/presenter.png", "jobs/media-job-1/scene-02.wav", "jobs/media-job-1/scene-02.mp4",
                               layout="corner", background_key="jobs/media-job-1/scene-02.png", seconds=4.0), ctx)
    video = ctx.storage.path_for("jobs/media-job-1/scene-02.mp4")
    assert (streams(video)["video"]["width"], streams(video)["video"]["height"]) == (1280, 720)
    assert abs(probe_seconds(video) - 4.0) < 0.2  # held on the last frame after the narration ends
    frame = tmp_path / "frame.png"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", "1", "-i", str(video), "-frames:v", "1", str(frame)], check=True)
    with Image.open(frame) as picture:
        assert picture.getpixel((100, 100))[1] > 120  # the scene's green picture fills the frame...
        assert picture.getpixel((1280 - 130, 720 - 130)) != picture.getpixel((100, 100))  # ...with the presenter in the corner


def test_lipsync_of_the_built_in_character_is_left_to_the_cpu_presenter(comfy, ctx):
    backend = ComfyLipsync(ComfyEngine(comfy.url, {"lipsync-latentsync": WORKFLOWS["lipsync-latentsync"]}), "lipsync")
    with pytest.raises(StageFailure) as failure:
        backend.run(LipsyncRequest(None, "jobs/media-job-1/scene-01.wav", "jobs/media-job-1/scene-01.mp4"), ctx)
    assert (failure.value.code, failure.value.retryable) == ("BACKEND_UNAVAILABLE", False)
    assert "built-in character" in failure.value.message and comfy.submitted == []


def test_musetalk_refuses_a_presenter_picture_without_a_face_before_comfyui_is_asked(comfy, ctx, tmp_path):
    Image.new("RGB", (512, 512), (180, 140, 120)).save(tmp_path / "flat.png")
    ctx.storage.put_file("users/test/u1/presenter.png", tmp_path / "flat.png")
    ctx.storage.put_file("jobs/media-job-1/scene-01.wav", speak(tmp_path / "n.wav", "Hello there."))
    backend = ComfyLipsync(ComfyEngine(comfy.url, {"lipsync-musetalk": WORKFLOWS["lipsync-musetalk"]}), "lipsync")
    assert backend.available() is None and backend.name == "MuseTalk 1.0 (ComfyUI)"
    with pytest.raises(StageFailure) as failure:
        backend.run(LipsyncRequest("users/test/u1/presenter.png", "jobs/media-job-1/scene-01.wav", "jobs/media-job-1/scene-01.mp4"), ctx)
    assert (failure.value.stage, failure.value.code, failure.value.retryable) == ("lipsync", "BAD_INPUT", False)
    assert failure.value.message == NO_FACE
    assert comfy.submitted == [] and comfy.calls("/upload/image") == []
    assert not ctx.storage.exists("jobs/media-job-1/scene-01.mp4")


def test_a_motion_clip_from_a_picture_has_the_frames_and_size_asked_for(comfy, tmp_path):
    Image.new("RGB", (1280, 704), (30, 90, 160)).save(tmp_path / "scene.png")
    wan = WORKFLOWS["motion-wan22-ti2v-5b"]

    async def go():
        async with ComfyClient(comfy.url) as client:
            start = await client.upload(tmp_path / "scene.png")
            graph = wan.fill(prompt="waves rolling in", seed=3, width=1280, height=720, frames=49, input_image=start)
            result = await client.run(graph, stage="visuals", model_hints=wan.model_hints())
            [ref] = result.files(wan.output_node)
            return await client.view(ref)

    clip = tmp_path / "motion.webm"
    clip.write_bytes(asyncio.run(go()))
    found = streams(clip)["video"]
    assert (found["codec_name"], found["width"], found["height"]) == ("vp9", 1280, 704)  # Wan's sizes are multiples of 32
    assert abs(probe_seconds(clip) - 49 / 24) < 0.1  # 49 frames at the workflow's 24 fps


def test_narration_is_cloned_from_the_stored_reference_and_fits_its_scene(comfy, ctx, tmp_path):
    ctx.storage.put_file("users/test/u1/voices/anna.wav", speak(tmp_path / "ref.wav", "This is how I sound."))
    engine = ComfyEngine(comfy.url, {"tts-chatterbox-clone": WORKFLOWS["tts-chatterbox-clone"]})
    backend = ComfyTts(engine, "tts")
    assert backend.speaks("en") and not backend.speaks("pt-br")  # Chatterbox's English model
    text = "Far out in the ocean, where the water is as blue as the prettiest cornflower, there lived a little mermaid."
    request = TtsRequest(text=text, language="en", voice_engine="f5-tts", voice_id="anna", speed=1,
                         reference_key="users/test/u1/voices/anna.wav", max_seconds=5, out_key="jobs/media-job-1/scene-01.wav")
    result = backend.run(request, ctx)
    wav = ctx.storage.path_for(request.out_key)
    assert mean_volume_db(wav) > -40
    assert result.audio_seconds == pytest.approx(probe_seconds(wav), abs=0.05)
    spoken = probe_seconds(speak(tmp_path / "as-made.wav", text))  # what the (emulated) model said, before fitting
    assert spoken > 5
    assert result.audio_seconds == pytest.approx(max(5, spoken / 1.5), abs=0.1)  # sped up to fit, at most 1.5x
    graph = comfy.submitted[0]
    assert graph["2"]["inputs"]["audio_prompt"] == ["1", 0]
    assert graph["1"]["inputs"]["audio"] == "spinbot/media-job-1-reference-anna.wav"
    assert graph["2"]["inputs"]["text"] == text


def test_a_core_createvideo_savevideo_graph_returns_an_mp4(comfy, tmp_path):
    """The same motion graph ending in core CreateVideo + SaveVideo (what ComfyUI's own Wan template uses)."""
    Image.new("RGB", (640, 352), (30, 90, 160)).save(tmp_path / "scene.png")
    wan = WORKFLOWS["motion-wan22-ti2v-5b"]

    async def go():
        async with ComfyClient(comfy.url) as client:
            graph = wan.fill(width=640, height=352, frames=25, input_image=await client.upload(tmp_path / "scene.png"))
            del graph["58"]
            graph["60"] = {"class_type": "CreateVideo", "inputs": {"images": ["8", 0], "fps": 24.0}}
            graph["61"] = {"class_type": "SaveVideo", "inputs": {"video": ["60", 0], "filename_prefix": "video/spinbot", "format": "auto"}}
            [ref] = (await client.run(graph, stage="visuals")).files("61")
            return ref, await client.view(ref)

    ref, data = asyncio.run(go())
    clip = tmp_path / ref.filename
    clip.write_bytes(data)
    assert ref.filename.endswith(".mp4") and ref.subfolder == "video"
    found = streams(clip)["video"]
    assert (found["codec_name"], found["width"], found["height"]) == ("h264", 640, 352)
    assert abs(probe_seconds(clip) - 25 / 24) < 0.1


def test_the_plans_speaking_rate_applies_to_gpu_narration(comfy, ctx, tmp_path):
    backend = ComfyTts(ComfyEngine(comfy.url, {"tts-chatterbox-clone": WORKFLOWS["tts-chatterbox-clone"]}), "tts")
    text = "A calm and slow sentence."
    request = TtsRequest(text=text, language="en", voice_engine="espeak-ng", voice_id="en-us", speed=0.8,
                         reference_key=None, max_seconds=20, out_key="jobs/media-job-1/scene-03.wav")
    result = backend.run(request, ctx)
    spoken = probe_seconds(speak(tmp_path / "as-made.wav", text))
    assert result.audio_seconds == pytest.approx(spoken / 0.8, abs=0.1)
    assert "1" not in comfy.submitted[0] and "audio_prompt" not in comfy.submitted[0]["2"]["inputs"]  # no reference: its own voice
