"""tts on the CPU: espeak-ng, re-spoken faster when the narration would overrun its scene."""

from __future__ import annotations

import shutil
from pathlib import PurePosixPath

from ..tools import run_tool, wav_seconds
from .base import StageBackend, StageContext, TtsRequest, TtsResult

BASE_WPM = 175  # espeak-ng's default rate: speed 1.0
MAX_SPEEDUP = 1.6  # beyond this espeak becomes hard to follow
WPM_RANGE = (80, 600)
TIMEOUT_S = 60


class EspeakTts(StageBackend):
    stage = "tts"
    id = "espeak-ng"
    name = "espeak-ng (CPU)"
    device = "cpu"
    licence = "GPL-3.0-or-later"

    def available(self) -> str | None:
        return None if shutil.which("espeak-ng") else "espeak-ng is not installed"

    def run(self, request: TtsRequest, ctx: StageContext) -> TtsResult:
        wav = ctx.workdir / PurePosixPath(request.out_key).name
        voice = self._speak(request, request.speed, wav)
        seconds = wav_seconds(str(wav))
        if seconds > request.max_seconds:
            # Too long for its scene: speak faster (proportionally, with a little headroom), capped.
            speedup = min(MAX_SPEEDUP, seconds / request.max_seconds * 1.05)
            self._speak(request, request.speed * speedup, wav, voices=[voice])
            seconds = wav_seconds(str(wav))
        ctx.storage.put_file(request.out_key, wav)
        return TtsResult(audio_seconds=round(seconds, 3))

    def _speak(self, request: TtsRequest, speed: float, wav, voices: list[str] | None = None) -> str:
        """Speak into wav with the first voice espeak-ng knows; returns that voice."""
        wpm = int(min(max(BASE_WPM * speed, WPM_RANGE[0]), WPM_RANGE[1]))
        if voices is None:
            # A saved (cloned) voice's name means nothing to espeak-ng: fall back to the language.
            preferred = [request.voice_id] if request.voice_engine == "espeak-ng" else []
            voices = list(dict.fromkeys(preferred + [request.language, request.language.split("-")[0], "en"]))
        for voice in voices:
            # Text on stdin: never parsed as options, whatever it starts with.
            done = run_tool(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(wav)], stage="tts",
                            timeout=TIMEOUT_S, stdin=request.text.encode("utf-8"), check=False)
            if done.returncode == 0:
                return voice
        run_tool(["espeak-ng", "-v", voices[-1], "-s", str(wpm), "-w", str(wav)], stage="tts",
                 timeout=TIMEOUT_S, stdin=request.text.encode("utf-8"))  # raises with espeak's message
        return voices[-1]
