"""Which backend runs a stage, and what users are told when none can."""

import pytest

from spinbot_worker.backends import BackendRegistry, StageBackend, build_registry
from spinbot_worker.config import Config, ConfigError
from spinbot_worker.errors import StageFailure
from spinbot_worker.worker import make_registry


class FakeGpuTts(StageBackend):
    stage, id, name, device, licence = "tts", "fake-gpu-tts", "FAKE GPU tts (test only)", "gpu", "test only"

    def available(self):
        return None

    def run(self, request, ctx):
        raise AssertionError("not run in these tests")


def no_gpu():
    return None


def test_auto_uses_the_cpu_backends_on_a_machine_without_gpu():
    registry = build_registry(registry=BackendRegistry(gpu_probe=no_gpu))
    assert registry.select("tts", "auto").name == "Piper joe-medium (CPU)"
    assert registry.select("visuals", "auto").device == "cpu"
    assert registry.select("upscale", "cpu").device == "cpu"


def test_narration_in_a_language_piper_lacks_falls_back_to_espeak_ng():
    registry = build_registry(registry=BackendRegistry(gpu_probe=no_gpu))
    assert registry.select("tts", "auto", language="en-gb").name == "Piper joe-medium (CPU)"
    assert registry.select("tts", "auto", language="pt-br").name == "espeak-ng (CPU)"
    # Even when Piper is named (an operator's SPINBOT_TTS_BACKEND=piper), a French plan is still spoken.
    assert registry.select("tts", "piper", language="fr").name == "espeak-ng (CPU)"


def test_auto_prefers_a_gpu_backend_when_one_is_usable():
    registry = build_registry(registry=BackendRegistry(gpu_probe=lambda: "FAKE GPU"))
    registry.register(FakeGpuTts())
    assert registry.select("tts", "auto").id == "fake-gpu-tts"
    assert registry.select("tts", "cpu").id == "piper"


@pytest.mark.parametrize("stage, words", [
    ("train_voice", "Voice training needs a GPU worker; none is available on this machine."),
    ("train_lora", "needs a GPU worker"),
])
def test_gpu_only_stages_fail_with_no_gpu_and_a_readable_message(stage, words):
    registry = build_registry(registry=BackendRegistry(gpu_probe=no_gpu))
    with pytest.raises(StageFailure) as caught:
        registry.select(stage, "auto")
    assert (caught.value.code, caught.value.retryable, caught.value.stage) == ("NO_GPU", False, stage)
    assert words in caught.value.message


def test_lip_sync_runs_on_the_cpu_presenter_without_a_gpu():
    registry = build_registry(registry=BackendRegistry(gpu_probe=no_gpu))
    assert registry.select("lipsync", "auto").id == "presenter-cpu"
    assert "mediapipe: Apache-2.0" in registry.select("lipsync", "cpu").licence  # from setup/models.json


def test_asking_for_a_gpu_without_one_is_no_gpu():
    registry = build_registry(registry=BackendRegistry(gpu_probe=no_gpu))
    with pytest.raises(StageFailure) as caught:
        registry.select("visuals", "gpu")
    assert caught.value.code == "NO_GPU" and "choose auto or cpu" in caught.value.message


def test_a_backend_can_be_chosen_by_id_or_name():
    registry = build_registry(("misbehaving_backends",), BackendRegistry(gpu_probe=no_gpu))
    assert registry.select("tts", "fake-slow").name == "FAKE slow (test only)"
    assert registry.select("tts", "espeak-ng (CPU)").id == "espeak-ng"
    with pytest.raises(StageFailure) as caught:
        registry.select("tts", "nonexistent")
    assert caught.value.code == "BACKEND_UNAVAILABLE"


def test_configuring_an_unknown_backend_fails_at_start_up(tmp_path):
    config = Config(redis_url="redis://127.0.0.1:1", data_dir=tmp_path,
                    backend_choices={"tts": "no-such-voice", "visuals": "auto", "upscale": "auto"})
    with pytest.raises(ConfigError) as caught:
        make_registry(config)
    assert "SPINBOT_TTS_BACKEND='no-such-voice'" in str(caught.value) and "espeak-ng" in str(caught.value)


def test_every_shipped_backend_is_typed_with_its_stages_request_and_result():
    from spinbot_worker.backends.base import STAGE_TYPES, declared_types
    from spinbot_worker.comfyui.backends import BACKENDS

    shipped = [type(b) for b in build_registry(registry=BackendRegistry(gpu_probe=no_gpu))._backends]
    shipped += [(cls, stage) for stage, cls in BACKENDS.items()]  # the ComfyUI backends take their stage at creation
    for entry in shipped:
        cls, stage = entry if isinstance(entry, tuple) else (entry, entry.stage)
        assert declared_types(cls) == STAGE_TYPES[stage], f"{cls.__name__} is not typed as a {stage} backend"
    assert {stage for _, stage in shipped[-len(BACKENDS):]} == {"visuals", "upscale", "tts", "lipsync", "motion"}


def test_a_backend_typed_for_another_stage_is_refused_when_registered():
    from spinbot_worker.backends.base import VisualsBackend

    class PicturesAsNarration(VisualsBackend):
        stage, id, name, device, licence = "tts", "mixed-up", "Mixed up (test only)", "cpu", "test only"

        def run(self, request, ctx):
            raise AssertionError("never run")

    with pytest.raises(ValueError, match="backend 'mixed-up' is typed VisualsRequest -> None, but the tts stage is TtsRequest -> TtsResult"):
        BackendRegistry(gpu_probe=no_gpu).register(PicturesAsNarration())


def test_a_request_of_another_stage_fails_before_the_backend_runs(tmp_path):
    import asyncio

    from spinbot_worker.backends import UpscaleRequest
    from spinbot_worker.runtime import JobRuntime
    from spinbot_worker.storage import FileStorage

    registry = build_registry(registry=BackendRegistry(gpu_probe=no_gpu))
    runtime = JobRuntime("job-1", FileStorage(tmp_path), registry, tmp_path, send_progress=lambda event: asyncio.sleep(0))
    espeak = registry.find("tts", "espeak-ng")
    with pytest.raises(StageFailure) as failure:
        asyncio.run(runtime.run_stage("tts", espeak, UpscaleRequest("a.png", "b.png", 1280, 720)))
    assert (failure.value.code, failure.value.retryable) == ("INTERNAL", False)
    assert str(failure.value.message) == "espeak-ng (CPU) was given UpscaleRequest; the tts stage takes TtsRequest"
