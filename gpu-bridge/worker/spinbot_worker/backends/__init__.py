"""Stage backends: the interface, the registry, and the CPU backends that ship with the worker."""

from __future__ import annotations

import importlib

from .base import (
    STAGE_TYPES,
    LipsyncRequest,
    MotionRequest,
    StageBackend,
    SpokenSentence,
    StageContext,
    TrainLoraRequest,
    TrainVoiceRequest,
    TtsRequest,
    TtsResult,
    UpscaleRequest,
    VisualsRequest,
)
from .card_visuals import IllustratedVisuals
from .espeak_tts import EspeakTts
from .ffmpeg_upscale import FfmpegUpscale
from .gpu import detect_gpu
from .realesrgan_upscale import RealEsrganUpscale
from .piper_tts import PiperTts
from .registry import BackendRegistry
from ..presenter.backend import CpuPresenter

__all__ = [
    "BackendRegistry", "StageBackend", "STAGE_TYPES", "MotionRequest", "StageContext", "TtsRequest", "TtsResult", "VisualsRequest",
    "UpscaleRequest", "LipsyncRequest", "TrainVoiceRequest", "TrainLoraRequest", "build_registry", "detect_gpu",
    "EspeakTts", "IllustratedVisuals", "FfmpegUpscale", "RealEsrganUpscale", "PiperTts", "SpokenSentence", "CpuPresenter",
]


def build_registry(plugins: tuple[str, ...] = (), registry: BackendRegistry | None = None) -> BackendRegistry:
    """The CPU backends, plus those each plugin module adds in its register_backends(registry)."""
    registry = registry or BackendRegistry()
    for backend in (PiperTts(), EspeakTts(), IllustratedVisuals(), RealEsrganUpscale(), FfmpegUpscale(), CpuPresenter()):
        registry.register(backend)
    for module_name in plugins:
        module = importlib.import_module(module_name)
        register = getattr(module, "register_backends", None)
        if not callable(register):
            raise ImportError(f"backend plugin {module_name!r} has no register_backends(registry) function")
        register(registry)
    return registry
