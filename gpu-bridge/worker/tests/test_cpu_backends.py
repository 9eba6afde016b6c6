"""The CPU backends make real media: audible narration that fits, distinct non-blank pictures in the frame's shape."""

from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from spinbot_worker.backends import (
    EspeakTts, FfmpegUpscale, StageContext, IllustratedVisuals, TtsRequest, UpscaleRequest, VisualsRequest,
)
from spinbot_worker.backends.card_visuals import draw_size
from spinbot_worker.storage import FileStorage
from support import mean_volume_db, probe_seconds


@pytest.fixture
def ctx(tmp_path) -> StageContext:
    workdir = tmp_path / "work"
    workdir.mkdir()
    return StageContext(job_id="test-job-1", attempt=1, storage=FileStorage(tmp_path / "data"), workdir=workdir)


def tts_request(text: str, seconds: float, **changes) -> TtsRequest:
    fields = dict(text=text, language="en", voice_engine="espeak-ng", voice_id="en-us", speed=1.0,
                  reference_key=None, max_seconds=seconds, out_key="jobs/test-job-1/scene-01.wav")
    fields.update(changes)
    return TtsRequest(**fields)


def visuals_request(scene: int, prompt: str, text: str, **changes) -> VisualsRequest:
    fields = dict(prompt=prompt, seed=7, text=text, scene=scene, scene_count=2, width=1280, height=720,
                  reference_image_key=None, out_key=f"jobs/test-job-1/scene-0{scene}.png")
    fields.update(changes)
    return VisualsRequest(**fields)


def stored(ctx: StageContext, key: str) -> Path:
    return ctx.storage.path_for(key)


def test_narration_is_audible_and_fits_its_scene(ctx):
    result = EspeakTts().run(tts_request("Sunlight looks white, but it is a mix of every colour.", 5), ctx)
    wav = stored(ctx, "jobs/test-job-1/scene-01.wav")
    assert mean_volume_db(wav) > -40
    assert 1 < result.audio_seconds <= 5
    assert result.audio_seconds == pytest.approx(probe_seconds(wav), abs=0.05)


def test_narration_too_long_for_its_scene_is_spoken_faster(ctx):
    text = "Air molecules scatter the short blue waves of sunlight far more strongly than the long red ones, so blue fills the sky."
    natural = EspeakTts().run(tts_request(text, 30), ctx).audio_seconds
    assert natural > 5  # the premise: at its natural pace this overruns a 5 s scene
    fitted = EspeakTts().run(tts_request(text, 5), ctx).audio_seconds
    assert fitted <= 5 < natural
    assert mean_volume_db(stored(ctx, "jobs/test-job-1/scene-01.wav")) > -40


def test_unknown_voice_falls_back_to_the_language(ctx):
    result = EspeakTts().run(tts_request("Hello there.", 5, voice_id="anna", voice_engine="f5-tts"), ctx)
    assert result.audio_seconds > 0.3
    assert mean_volume_db(stored(ctx, "jobs/test-job-1/scene-01.wav")) > -40


def picture_size() -> tuple[int, int]:
    """What the visuals stage draws for a 1280x720 frame: half size when Real-ESRGAN will upscale it."""
    return draw_size(1280, 720)


def test_pictures_have_the_frame_shape_are_not_blank_and_differ_between_scenes(ctx):
    backend = IllustratedVisuals()
    backend.run(visuals_request(1, "sunlight through a prism", "White light is a mix"), ctx)
    backend.run(visuals_request(2, "blue light scattering in the atmosphere", "Rayleigh scattering"), ctx)
    first = Image.open(stored(ctx, "jobs/test-job-1/scene-01.png")).convert("RGB")
    second = Image.open(stored(ctx, "jobs/test-job-1/scene-02.png")).convert("RGB")
    for image in (first, second):
        assert image.size == picture_size() and image.width * 9 == image.height * 16
        assert min(ImageStat.Stat(image.convert("L")).stddev) > 15  # real content, not a flat frame
    difference = ImageStat.Stat(ImageChops.difference(first, second).convert("L")).mean[0]
    assert difference > 10


def test_same_prompt_in_another_scene_still_looks_different(ctx):
    backend = IllustratedVisuals()
    backend.run(visuals_request(1, "a quiet lake", ""), ctx)
    backend.run(visuals_request(2, "a quiet lake", ""), ctx)
    first = Image.open(stored(ctx, "jobs/test-job-1/scene-01.png")).convert("RGB")
    second = Image.open(stored(ctx, "jobs/test-job-1/scene-02.png")).convert("RGB")
    assert ImageStat.Stat(ImageChops.difference(first, second).convert("L")).mean[0] > 10


def test_a_rerun_draws_the_same_picture(ctx):
    backend = IllustratedVisuals()
    backend.run(visuals_request(1, "sunlight through a prism", "White light is a mix"), ctx)
    once = stored(ctx, "jobs/test-job-1/scene-01.png").read_bytes()
    backend.run(visuals_request(1, "sunlight through a prism", "White light is a mix"), ctx)
    assert stored(ctx, "jobs/test-job-1/scene-01.png").read_bytes() == once


def test_long_on_screen_text_still_fits(ctx):
    text = "Supercalifragilisticexpialidociousness-of-the-atmosphere " * 2
    IllustratedVisuals().run(visuals_request(1, "sky", text[:80]), ctx)
    assert Image.open(stored(ctx, "jobs/test-job-1/scene-01.png")).size == picture_size()


@pytest.mark.parametrize("size", [(640, 360), (500, 500)])
def test_upscale_gives_exactly_1280x720(ctx, size):
    source = ctx.workdir / "small.png"
    Image.radial_gradient("L").resize(size).convert("RGB").save(source)
    ctx.storage.put_file("jobs/test-job-1/small.png", source)
    FfmpegUpscale().run(UpscaleRequest("jobs/test-job-1/small.png", "jobs/test-job-1/scene-01.png", 1280, 720), ctx)
    image = Image.open(stored(ctx, "jobs/test-job-1/scene-01.png"))
    assert image.size == (1280, 720)
    assert min(ImageStat.Stat(image.convert("L")).stddev) > 15
