"""The one interface every stage backend implements, CPU or GPU, and what it is given.

A backend is chosen per stage (tts, visuals, motion, lipsync, upscale, train_voice, train_lora). It
receives the request dataclass of its stage and a StageContext, reads its inputs and writes its
outputs through ctx.storage under the keys in the request, and returns the stage's result.
run() is synchronous and is called in a worker thread, so a long model call does not stop the
event loop that renews the job's lock.

Typed per stage: a backend subclasses its stage's interface, e.g. `class EspeakTts(TtsBackend)`,
which is StageBackend[TtsRequest, TtsResult]. STAGE_TYPES is the one table of each stage's request
and result; the runtime refuses a request of another type, and a test checks every shipped backend
declares its stage's types (declared_types), so no type checker is needed to keep them in line.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Generic, Literal, TypeVar, get_args, get_origin

from ..storage import Storage

Device = Literal["cpu", "gpu"]


@dataclass(frozen=True)
class StageContext:
    job_id: str
    attempt: int  # 1-based: 2 on the first retry
    storage: Storage
    workdir: Path  # private scratch folder of this job, removed afterwards
    # report(percent within this step 0-100, message): optional finer progress; thread-safe.
    report: Callable[[float, str], None] = lambda percent, message: None
    # Whether the user cancelled the job meanwhile, for a long step that can stop midway (e.g. a
    # ComfyUI workflow, which is then interrupted); thread-safe.
    cancelled: Callable[[], bool] = lambda: False


RequestT = TypeVar("RequestT")
ResultT = TypeVar("ResultT")


class StageBackend(ABC, Generic[RequestT, ResultT]):
    stage: ClassVar[str]  # a StageName of the contract
    id: ClassVar[str]  # stable slug for configuration, e.g. "espeak-ng"
    name: ClassVar[str]  # human name shown in progress, e.g. "espeak-ng (CPU)"
    device: ClassVar[Device]
    licence: ClassVar[str]  # of the code and, where it applies, the model weights
    priority: ClassVar[int] = 0  # 'auto' prefers GPU backends, then higher priority
    # Languages a narration backend can speak (primary subtags, e.g. ("en",)); None: any.
    languages: ClassVar[tuple[str, ...] | None] = None

    def available(self) -> str | None:
        """None when this backend can run here, else the reason it cannot."""
        return None

    @abstractmethod
    def run(self, request: RequestT, ctx: StageContext) -> ResultT:
        """Do the stage's work for one request; raise StageFailure for failures users should see."""

    def speaks(self, language: str | None) -> bool:
        """Whether this backend can speak `language` (e.g. "pt-br"); None asks nothing."""
        return language is None or self.languages is None or language.split("-")[0].lower() in self.languages

    def info(self) -> dict:
        licence = getattr(self, "licence", None)  # for the clip's result line
        return {"name": self.name, "device": self.device, **({"licence": licence} if licence else {})}


# Requests and results per stage. GPU backends (F5-TTS, ComfyUI, lip-sync, Real-ESRGAN,
# trainers) take the same requests; fields a backend cannot honour it ignores and says so.

@dataclass(frozen=True)
class TtsRequest:
    text: str
    language: str  # e.g. "en", "pt-br"
    voice_engine: str  # "espeak-ng" | "f5-tts"
    voice_id: str  # espeak-ng voice name or a saved voice's display name
    speed: float  # 1 = the engine's natural pace
    reference_key: str | None  # stored reference sample for voice cloning
    max_seconds: float  # the scene's length: speech should fit in it
    out_key: str  # WAV


@dataclass(frozen=True)
class SpokenSentence:
    """One sentence of a narration and when it is heard in the scene's audio (seconds)."""
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class TtsResult:
    audio_seconds: float
    # When each sentence is spoken, measured on the audio; empty when the backend cannot tell.
    sentences: tuple[SpokenSentence, ...] = ()


@dataclass(frozen=True)
class VisualsRequest:
    prompt: str
    seed: int
    text: str  # large on-screen text, "" for none
    scene: int  # 1-based
    scene_count: int
    width: int
    height: int
    reference_image_key: str | None
    out_key: str  # PNG
    # The user's trained style: its stored LoRA, the checkpoint it needs and its trigger word (GPU workflows only).
    lora_key: str | None = None
    lora_base_model: str = ""
    lora_trigger: str = ""


@dataclass(frozen=True)
class UpscaleRequest:
    in_key: str
    out_key: str
    width: int
    height: int


@dataclass(frozen=True)
class LipsyncRequest:
    image_key: str | None  # the presenter's stored portrait; None: the built-in character
    audio_key: str
    out_key: str  # video (H.264/AAC MP4 with the narration)
    width: int = 1280
    height: int = 720
    fps: int = 30
    layout: str = "full"  # "full": the presenter fills the frame; "corner": cut out over background_key
    background_key: str | None = None  # the scene's picture, for "corner"
    seconds: float | None = None  # the scene's length when longer than the narration


@dataclass(frozen=True)
class MotionRequest:
    image_key: str  # the scene's picture, brought to life
    prompt: str  # what happens in it (the scene's picture description)
    seed: int
    width: int
    height: int
    seconds: float  # the scene's length: a shorter clip holds its last frame
    out_key: str  # video (H.264 MP4, no sound: assembly lays the narration under it)


@dataclass(frozen=True)
class TrainVoiceRequest:
    name: str
    sample_keys: tuple[str, ...]
    out_prefix: str


@dataclass(frozen=True)
class TrainLoraRequest:
    name: str
    image_keys: tuple[str, ...]
    steps: int
    out_prefix: str
    caption: str = ""  # the user's words about the pictures, added to each caption


# The stage interfaces: what each stage's backends are given and give back (None: files in storage only).
TtsBackend = StageBackend[TtsRequest, TtsResult]
VisualsBackend = StageBackend[VisualsRequest, None]
UpscaleBackend = StageBackend[UpscaleRequest, None]
LipsyncBackend = StageBackend[LipsyncRequest, None]
MotionBackend = StageBackend[MotionRequest, None]
TrainVoiceBackend = StageBackend[TrainVoiceRequest, dict]
TrainLoraBackend = StageBackend[TrainLoraRequest, dict]
STAGE_TYPES: dict[str, tuple[type, type | None]] = {
    "tts": (TtsRequest, TtsResult), "visuals": (VisualsRequest, None), "upscale": (UpscaleRequest, None),
    "lipsync": (LipsyncRequest, None), "motion": (MotionRequest, None),
    "train_voice": (TrainVoiceRequest, dict), "train_lora": (TrainLoraRequest, dict),
}


def declared_types(backend_class: type) -> tuple[type, type | None] | None:
    """The (request, result) a backend class declares through StageBackend[...] (directly or through a
    generic subclass such as ComfyBackend[...]); None when it declares none (a plugin may not)."""
    for klass in backend_class.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            origin, args = get_origin(base), get_args(base)
            if isinstance(origin, type) and issubclass(origin, StageBackend) and len(args) == 2 \
                    and not any(isinstance(arg, TypeVar) for arg in args):
                return tuple(None if arg is type(None) else arg for arg in args)  # type: ignore[return-value]
    return None


def check_request(stage: str, backend: Any, request: Any) -> str | None:
    """None when `request` is what the stage's backends take, else what is wrong (for an INTERNAL failure)."""
    expected = STAGE_TYPES.get(stage)
    if expected is not None and not isinstance(request, expected[0]):
        return f"{getattr(backend, 'name', backend)} was given {type(request).__name__}; the {stage} stage takes {expected[0].__name__}"
    return None
