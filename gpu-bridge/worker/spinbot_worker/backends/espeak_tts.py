"""tts on the CPU: espeak-ng, for every language (Piper speaks only English here), sentence by sentence."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..models import model_info
from ..tools import run_tool
from .base import TtsRequest
from .narration import SentenceTts

BASE_WPM = 175  # espeak-ng's default rate: speed 1.0
WPM_RANGE = (80, 600)
TIMEOUT_S = 60


class EspeakTts(SentenceTts):
    id = "espeak-ng"
    name = "espeak-ng (CPU)"
    device = "cpu"

    @property
    def licence(self) -> str:
        return model_info("espeak-ng")["licence"]

    def available(self) -> str | None:
        return None if shutil.which("espeak-ng") else "espeak-ng is not installed"

    def speak_sentences(self, request: TtsRequest, sentences: list[str], speed: float, folder: Path) -> list[Path]:
        wpm = int(min(max(BASE_WPM * speed, WPM_RANGE[0]), WPM_RANGE[1]))
        # A saved (cloned) voice's name means nothing to espeak-ng: fall back to the language, then English.
        preferred = [request.voice_id] if request.voice_engine == "espeak-ng" else []
        voices = list(dict.fromkeys(preferred + [request.language, request.language.split("-")[0], "en"]))
        wavs = []
        for number, sentence in enumerate(sentences, start=1):
            wav = folder / f"{number:03d}.wav"
            # The first sentence finds the first voice espeak-ng knows; the rest keep it.
            while True:
                last_try = len(voices) == 1
                # Text on stdin: never parsed as options, whatever it starts with.
                done = run_tool(["espeak-ng", "-v", voices[0], "-s", str(wpm), "-w", str(wav)], stage="tts",
                                timeout=TIMEOUT_S, stdin=sentence.encode("utf-8"), check=last_try)  # raises with espeak's message
                if done.returncode == 0:
                    break
                voices.pop(0)
            voices = voices[:1]
            wavs.append(wav)
        return wavs
