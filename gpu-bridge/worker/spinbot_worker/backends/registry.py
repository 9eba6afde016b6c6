"""Which backend runs a stage: registration, and selection by choice + capability detection."""

from __future__ import annotations

from typing import Callable

from ..errors import STAGES, StageFailure
from .base import STAGE_TYPES, StageBackend, declared_types
from .gpu import detect_gpu

GENERIC_CHOICES = ("auto", "cpu", "gpu")
# How a stage is named in messages users read.
STAGE_LABELS = {
    "tts": "Narration",
    "visuals": "Picture generation",
    "lipsync": "Lip-sync",
    "motion": "Motion clips",
    "upscale": "Upscaling",
    "train_voice": "Voice training",
    "train_lora": "Style (LoRA) training",
}


class BackendRegistry:
    def __init__(self, gpu_probe: Callable[[], str | None] = detect_gpu):
        self._backends: list[StageBackend] = []
        self._gpu_probe = gpu_probe

    def register(self, backend: StageBackend) -> None:
        if backend.stage not in STAGES:
            raise ValueError(f"backend {backend.id!r} has unknown stage {backend.stage!r}")
        if backend.device not in ("cpu", "gpu"):
            raise ValueError(f"backend {backend.id!r} has unknown device {backend.device!r}")
        declared = declared_types(type(backend))
        if declared is not None and declared != STAGE_TYPES.get(backend.stage):
            takes = " -> ".join(getattr(t, "__name__", "None") for t in declared)
            wanted = " -> ".join(getattr(t, "__name__", "None") for t in STAGE_TYPES[backend.stage])
            raise ValueError(f"backend {backend.id!r} is typed {takes}, but the {backend.stage} stage is {wanted}")
        if self.find(backend.stage, backend.id) or self.find(backend.stage, backend.name):
            raise ValueError(f"a {backend.stage} backend named {backend.id!r} is already registered")
        self._backends.append(backend)

    def for_stage(self, stage: str) -> list[StageBackend]:
        """The stage's backends in 'auto' order: GPU before CPU, then by priority (stable)."""
        ours = [b for b in self._backends if b.stage == stage]
        return sorted(ours, key=lambda b: (b.device != "gpu", -b.priority))

    def find(self, stage: str, ref: str) -> StageBackend | None:
        """A backend of the stage by id or human name (case-insensitive)."""
        ref = ref.strip().lower()
        return next((b for b in self.for_stage(stage) if ref in (b.id.lower(), b.name.lower())), None)

    def is_known_choice(self, stage: str, choice: str) -> bool:
        return choice in GENERIC_CHOICES or self.find(stage, choice) is not None

    def select(self, stage: str, choice: str = "auto", language: str | None = None) -> StageBackend:
        """The backend to run the stage, or a StageFailure that says why there is none.
        language (narration): backends that cannot speak it are passed over, a named one included."""
        label = STAGE_LABELS.get(stage, stage)
        if choice not in GENERIC_CHOICES:
            backend = self.find(stage, choice)
            if backend is None:
                raise StageFailure(stage, "BACKEND_UNAVAILABLE", f"No {stage} backend named {choice!r} is installed on the worker.", False)
            if not backend.speaks(language):
                # e.g. Piper (English voices only) named for a Portuguese plan: the best backend that speaks it.
                return self.select(stage, backend.device, language)
            reason = backend.available()
            if reason is None:
                return backend
            if backend.device == "gpu" and not _remote(backend) and not self._gpu_probe():
                raise StageFailure(stage, "NO_GPU", f"{backend.name} needs a GPU worker; none is available on this machine.", False)
            raise StageFailure(stage, "BACKEND_UNAVAILABLE", f"{backend.name} cannot run: {reason}", False)

        candidates = [b for b in self.for_stage(stage) if choice == "auto" or b.device == choice]
        reasons = []
        passed_over: StageBackend | None = None  # a GPU engine's backend whose workflow is not ready
        for backend in candidates:
            if not backend.speaks(language):
                reasons.append(f"{backend.name}: has no {language} voice")
                continue
            reason = backend.available()
            if reason is None:
                return FallbackBackend(backend, passed_over) if passed_over and backend.device == "cpu" else backend
            reasons.append(f"{backend.name}: {reason}")
            if _remote(backend) and passed_over is None:
                passed_over = backend

        has_cpu = any(b.device == "cpu" for b in self.for_stage(stage))
        has_remote = any(_remote(b) for b in self.for_stage(stage))
        if not self._gpu_probe() and not has_remote and (choice == "gpu" or (choice == "auto" and not has_cpu)):
            if choice == "gpu" and has_cpu:
                message = f"{label} on a GPU was requested, but this machine has no GPU; choose auto or cpu instead."
            else:
                message = f"{label} needs a GPU worker; none is available on this machine."
            raise StageFailure(stage, "NO_GPU", message, False)
        detail = "; ".join(reasons) if reasons else f"no {choice} backend is installed"
        raise StageFailure(stage, "BACKEND_UNAVAILABLE", f"{label} cannot run on this worker ({detail}).", False)

    def describe(self, stage: str, choice: str = "auto") -> str:
        """For the start-up line: the backend 'auto'/the choice picks, or why there is none."""
        try:
            return self.select(stage, choice).name
        except StageFailure as failure:
            return f"none ({failure.code})"


def _remote(backend: StageBackend) -> bool:
    """A GPU backend served by an engine elsewhere (ComfyUI): this machine's own GPU does not matter."""
    return bool(getattr(backend, "announce_fallback", False))


class FallbackBackend:
    """A CPU backend standing in for a GPU workflow that is not ready; its name says so, and the
    clip's result line with it (e.g. "title card (CPU; GPU workflow FLUX.1 schnell fp8 not ready)")."""

    def __init__(self, backend: StageBackend, instead_of: StageBackend):
        self._backend = backend
        missing = f"GPU workflow {getattr(instead_of, 'workflow_label', instead_of.name)} not ready"
        self.name = f"{backend.name.removesuffix(')')}; {missing})" if backend.name.endswith(")") else f"{backend.name} ({missing})"

    def __getattr__(self, attribute):
        return getattr(self._backend, attribute)

    def info(self) -> dict:
        return {**self._backend.info(), "name": self.name}
