"""tts on the CPU: Piper (neural, 22 kHz) with the en_US "joe" voice, the default for English plans.

piper-tts is GPL-3.0-or-later, so the worker never imports it: it runs `python -m piper` as a
separate process, as it runs espeak-ng. One process per recording speaks every sentence of the
scene into its own WAV (one input line each), which is how the worker knows when each is heard.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from ..models import model_info, model_path, model_ready
from ..tools import run_tool
from .base import TtsRequest
from .narration import SentenceTts

MODEL_ID = "piper-joe-medium"
VOICE_FILE = "en_US-joe-medium.onnx"
TIMEOUT_S = 120  # model load (~1 s) plus up to 30 s of speech at RTF well under 1


class PiperTts(SentenceTts):
    id = "piper"
    name = "Piper joe-medium (CPU)"
    device = "cpu"
    priority = 10  # preferred over espeak-ng wherever it has a voice for the language
    languages = ("en",)

    @property
    def licence(self) -> str:
        return f"voice: {model_info(MODEL_ID)['licence']}; engine: piper-tts GPL-3.0-or-later (separate process)"

    def available(self) -> str | None:
        if importlib.util.find_spec("piper") is None:
            return "piper-tts is not installed in the worker's Python"
        if not model_ready(MODEL_ID):
            return f"its voice is not in the model cache (run: node setup/models.mjs fetch {MODEL_ID})"
        return None

    def speak_sentences(self, request: TtsRequest, sentences: list[str], speed: float, folder: Path) -> list[Path]:
        script = folder / "sentences.txt"
        # One sentence per line: piper writes one WAV per line into the folder, named by a rising clock.
        script.write_text("\n".join(sentences) + "\n", encoding="utf-8")
        out = folder / "wav"
        run_tool([sys.executable, "-m", "piper", "--model", str(model_path(MODEL_ID, VOICE_FILE)),
                  "--input-file", str(script), "--output-dir", str(out),
                  "--length-scale", f"{1 / speed:.3f}"], stage="tts", timeout=TIMEOUT_S)
        return sorted(out.glob("*.wav"), key=lambda wav: int(wav.stem))
