"""Pictures and upscaling on the CPU with the real models: Real-ESRGAN (ncnn, from the model cache)
and OpenMoji emoji drawn by keyword. Needs `node setup/models.mjs fetch realesrgan` (set-up does it)."""

import io

import numpy as np
import pytest
from PIL import Image, ImageChops, ImageStat

from spinbot_worker import models
from spinbot_worker.backends import IllustratedVisuals, RealEsrganUpscale, StageContext, UpscaleRequest, VisualsRequest
from spinbot_worker.backends import icons, realesrgan_upscale
from spinbot_worker.backends.card_visuals import illustrated_scene, layout_for
from spinbot_worker.storage import FileStorage


@pytest.fixture
def ctx(tmp_path) -> StageContext:
    workdir = tmp_path / "work"
    workdir.mkdir()
    return StageContext(job_id="test-job-1", attempt=1, storage=FileStorage(tmp_path / "data"), workdir=workdir)


@pytest.fixture(scope="module")
def model_ready():
    assert models.model_ready("realesrgan"), "the Real-ESRGAN model is not in the cache: node setup/models.mjs fetch realesrgan"


def drawing(size=(1280, 720)) -> Image.Image:
    """A sharp drawn frame: four emoji on a flat background (what the CPU pictures are made of)."""
    frame = Image.new("RGBA", size, (240, 230, 200, 255))
    for i, name in enumerate(["red apple", "black sun with rays", "rocket", "cloud"]):
        sprite = icons.render(icons.index()[0][name].code, size[1] * 2 // 5)
        frame.alpha_composite(sprite, (size[0] // 40 + i * size[0] // 4, size[1] // 4))
    return frame.convert("RGB")


def crisp_edges(image: Image.Image) -> int:
    """Pixel steps of more than 80 grey levels: a sharp outline makes them, a blurred one spreads them out."""
    grey = np.asarray(image.convert("L"), dtype=np.int16)
    return int((np.abs(np.diff(grey, axis=1)) > 80).sum() + (np.abs(np.diff(grey, axis=0)) > 80).sum())


def psnr(a: Image.Image, b: Image.Image) -> float:
    diff = np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32)
    return float(10 * np.log10(255 ** 2 / np.mean(diff * diff)))


def put_png(ctx, key, image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    ctx.storage.put_bytes(key, buffer.getvalue())


def test_real_esrgan_is_sharper_than_lanczos_and_exactly_the_frame_size(ctx, model_ready):
    original = drawing()
    put_png(ctx, "jobs/test-job-1/small.png", original.resize((640, 360), Image.Resampling.LANCZOS))
    backend = RealEsrganUpscale()
    assert backend.name == "Real-ESRGAN animevideov3 (CPU)"
    backend.run(UpscaleRequest("jobs/test-job-1/small.png", "jobs/test-job-1/scene-01.png", 1280, 720), ctx)
    upscaled = Image.open(ctx.storage.path_for("jobs/test-job-1/scene-01.png")).convert("RGB")
    lanczos = Image.open(ctx.storage.path_for("jobs/test-job-1/small.png")).resize((1280, 720), Image.Resampling.LANCZOS)

    assert upscaled.size == (1280, 720)
    assert crisp_edges(upscaled) > 1.5 * crisp_edges(lanczos), (crisp_edges(upscaled), crisp_edges(lanczos))
    assert psnr(upscaled, original) > psnr(lanczos, original) + 1  # closer to the drawing it was made from


def test_other_shapes_are_covered_and_cropped_to_exactly_the_frame(ctx, model_ready):
    put_png(ctx, "jobs/test-job-1/square.png", drawing((300, 300)))
    RealEsrganUpscale().run(UpscaleRequest("jobs/test-job-1/square.png", "jobs/test-job-1/scene-01.png", 720, 1280), ctx)
    image = Image.open(ctx.storage.path_for("jobs/test-job-1/scene-01.png"))
    assert image.size == (720, 1280)
    assert min(ImageStat.Stat(image.convert("L")).stddev) > 15


def test_tiles_join_without_seams(model_ready, monkeypatch):
    """A picture larger than a tile is upscaled in pieces; the result matches the one-piece upscale."""
    picture = drawing((320, 180))
    model = realesrgan_upscale.load_upscaler(realesrgan_upscale.FRAME_MODELS[2], 2)
    whole = np.asarray(model.run(picture), dtype=np.int16)
    monkeypatch.setattr(realesrgan_upscale, "TILE", 96)  # 4 x 2 tiles
    tiled = np.asarray(model.run(picture), dtype=np.int16)
    assert tiled.shape == whole.shape == (360, 640, 3)
    assert np.abs(tiled - whole).mean() < 0.5
    assert np.abs(tiled - whole).max() < 48


def test_a_picture_already_big_enough_is_not_run_through_the_model(ctx, model_ready, monkeypatch):
    def refuse(*args):
        raise AssertionError("the model ran on a picture that did not need it")

    monkeypatch.setattr(realesrgan_upscale.Upscaler, "run", refuse)
    put_png(ctx, "jobs/test-job-1/big.png", drawing((1600, 900)))
    RealEsrganUpscale().run(UpscaleRequest("jobs/test-job-1/big.png", "jobs/test-job-1/scene-01.png", 1280, 720), ctx)
    assert Image.open(ctx.storage.path_for("jobs/test-job-1/scene-01.png")).size == (1280, 720)


def test_without_the_model_the_upscale_says_so_and_still_sizes_the_picture(ctx, tmp_path, monkeypatch):
    monkeypatch.setenv("SPINBOT_MODEL_CACHE", str(tmp_path / "empty-cache"))
    realesrgan_upscale._load.cache_clear()
    try:
        backend = RealEsrganUpscale()
        assert backend.name.startswith("lanczos (CPU; Real-ESRGAN unavailable: ")
        assert "node setup/models.mjs fetch realesrgan" in backend.name
        put_png(ctx, "jobs/test-job-1/small.png", drawing((640, 360)))
        backend.run(UpscaleRequest("jobs/test-job-1/small.png", "jobs/test-job-1/scene-01.png", 1280, 720), ctx)
        assert Image.open(ctx.storage.path_for("jobs/test-job-1/scene-01.png")).size == (1280, 720)
    finally:
        realesrgan_upscale._load.cache_clear()


def test_emoji_are_chosen_by_the_words_of_the_prompt():
    names = lambda prompt: [icon.name for icon in icons.match(prompt)]  # noqa: E731
    assert names("a rocket launching into space")[0] == "rocket"
    assert "dog" in names("a dog playing in the park")[:2]
    assert "teacup without handle" in names("a cup of green tea on a wooden table")[:2]
    assert {"cloud", "sun behind cloud", "sunset over buildings"} & set(names("why the sky is blue at sunset")[:3])
    assert names("an old bicycle on a cobbled street")[0] == "bicycle"  # "old" describes; it does not pick "old key"
    assert "no bicycles" not in names("an old bicycle on a cobbled street")  # never a prohibition sign
    assert icons.match("zxqv wvvx") == []  # no word matches: the scene falls back to generic decorations


def scene_request(scene, prompt, text="", count=4, **changes):
    fields = dict(prompt=prompt, seed=3, text=text, scene=scene, scene_count=count, width=1280, height=720,
                  reference_image_key=None, out_key=f"jobs/test-job-1/scene-0{scene}.png")
    fields.update(changes)
    return VisualsRequest(**fields)


def colour_share(image: Image.Image, rgb: tuple[int, int, int], tolerance: int = 40) -> float:
    pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    close = np.all(np.abs(pixels - np.array(rgb)) <= tolerance, axis=2)
    return float(close.mean())


def test_a_scene_shows_the_emoji_its_prompt_names():
    """The rocket's red body and the planet's ring colour appear only when the prompt asks for them."""
    rocket = illustrated_scene(scene_request(1, "a rocket launching into space"), (640, 360))
    tea = illustrated_scene(scene_request(1, "a cup of tea on a table"), (640, 360))
    sprite = icons.render(icons.index()[0]["rocket"].code, 64)
    body = max(sprite.getcolors(64 * 64), key=lambda c: c[0] if c[1][3] == 255 and c[1][:3] not in ((0, 0, 0), (255, 255, 255)) else 0)[1][:3]
    assert colour_share(rocket, body, 12) > 0.002
    assert colour_share(rocket, body, 12) > 3 * colour_share(tea, body, 12)


def test_scenes_of_one_video_never_look_alike():
    prompts = ["blue sky over a lake", "blue sky over a lake", "sunlight through a prism", "a rocket in space", "a rocket in space", "a cup of tea"]
    pictures = [illustrated_scene(scene_request(i + 1, p, count=len(prompts)), (640, 360)) for i, p in enumerate(prompts)]
    assert len({layout_for(3, i + 1) for i in range(5)}) == 5  # five scenes, five layouts
    for i in range(len(pictures)):
        for j in range(i + 1, len(pictures)):
            difference = ImageStat.Stat(ImageChops.difference(pictures[i], pictures[j]).convert("L")).mean[0]
            assert difference > 12, f"scenes {i + 1} and {j + 1} differ by only {difference:.1f}"


def test_the_reference_photo_appears_in_the_scene(ctx, model_ready):
    photo = Image.new("RGB", (120, 90), (255, 0, 255))  # small: enlarged with x4plus; magenta: easy to find
    put_png(ctx, "users/test/photo.png", photo)
    backend = IllustratedVisuals()
    backend.run(scene_request(1, "my cat in the garden", "Meet Tom", reference_image_key="users/test/photo.png"), ctx)
    with_photo = Image.open(ctx.storage.path_for("jobs/test-job-1/scene-01.png"))
    backend.run(scene_request(1, "my cat in the garden", "Meet Tom"), ctx)
    without = Image.open(ctx.storage.path_for("jobs/test-job-1/scene-01.png"))
    assert colour_share(with_photo, (255, 0, 255), 30) > 0.05
    assert colour_share(without, (255, 0, 255), 30) < 0.001
