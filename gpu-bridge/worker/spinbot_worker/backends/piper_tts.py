"""tts on the CPU: Piper (neural, 22 kHz) with the en_US "joe" voice, the default for English plans.

piper-tts is GPL-3.0-or-later, so the worker never imports it: it runs `python -m piper` as a
separate process, as it runs espeak-ng. Piper writes one WAV per input line, which is how the worker
knows when each sentence is heard. Loading the voice costs ~0.7 s (5 s on a busy machine), so one
process at the natural pace stays up while scenes keep coming (stdin in, "Wrote <file>" on stderr),
and goes after a quiet minute; a re-recording at another pace (fitting a scene) runs once on its own.
"""

from __future__ import annotations

import importlib.util
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..errors import StageFailure
from ..models import model_info, model_path, model_ready
from ..tools import run_tool
from .base import TtsRequest
from .narration import SentenceTts

MODEL_ID = "piper-joe-medium"
VOICE_FILE = "en_US-joe-medium.onnx"
TIMEOUT_S = 120  # model load plus up to 30 s of speech at RTF well under 1, on a busy machine
IDLE_S = 60  # the kept process goes after this long without narration
_WROTE = re.compile(r"Wrote (.+\.wav)\s*$")


def _command(length_scale: float, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "piper", "--model", str(model_path(MODEL_ID, VOICE_FILE)),
            "--output-dir", str(out), "--length-scale", f"{length_scale:.3f}", *extra]


class _KeptPiper:
    """One piper process reading sentences on stdin, one WAV per line into its own folder."""

    def __init__(self, length_scale: float):
        self.length_scale = length_scale
        self.folder = Path(tempfile.mkdtemp(prefix="spinbot-piper-"))
        self.process = subprocess.Popen(_command(length_scale, self.folder), stdin=subprocess.PIPE,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                        encoding="utf-8", bufsize=1)
        self.said: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._listen, daemon=True).start()
        self.used = time.monotonic()

    def _listen(self) -> None:
        for line in self.process.stderr:
            self.said.put(line)
        self.said.put(None)  # piper exited

    def speak(self, sentences: list[str], into: Path) -> list[Path]:
        self.used = time.monotonic()
        for sentence in sentences:
            self.process.stdin.write(sentence + "\n")
        self.process.stdin.flush()
        wavs, tail, deadline = [], [], time.monotonic() + TIMEOUT_S
        while len(wavs) < len(sentences):
            try:
                line = self.said.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise StageFailure("tts", "TIMEOUT", f"Piper took longer than {TIMEOUT_S} s.", True) from None
            if line is None:
                raise StageFailure("tts", "INTERNAL", f"Piper stopped: {' '.join(tail)[-300:]}", True)
            tail = (tail + [line.strip()])[-5:]
            wrote = _WROTE.search(line)
            if wrote:
                wavs.append(Path(shutil.move(wrote.group(1), into / f"{len(wavs) + 1:03d}.wav")))
        self.used = time.monotonic()
        return wavs

    def idle(self) -> bool:
        return time.monotonic() - self.used > IDLE_S

    def close(self) -> None:
        try:
            self.process.stdin.close()  # piper ends at the end of its input
            self.process.wait(timeout=5)
        except Exception:
            self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


class PiperTts(SentenceTts):
    id = "piper"
    name = "Piper joe-medium (CPU)"
    device = "cpu"
    priority = 10  # preferred over espeak-ng wherever it has a voice for the language
    languages = ("en",)

    def __init__(self) -> None:
        self._kept: _KeptPiper | None = None
        self._lock = threading.Lock()  # one narration at a time through the kept process

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
        length_scale = 1 / speed
        if speed != request.speed:
            return self._speak_once(sentences, length_scale, folder)
        with self._lock:
            if self._kept is not None and (self._kept.length_scale != length_scale or self._kept.process.poll() is not None):
                self._kept.close()
                self._kept = None
            if self._kept is None:
                self._kept = _KeptPiper(length_scale)
                threading.Thread(target=self._close_when_idle, daemon=True).start()
            try:
                return self._kept.speak(sentences, folder)
            except StageFailure:
                self._kept.close()  # in an unknown state: the next scene starts a fresh one
                self._kept = None
                raise

    def _speak_once(self, sentences: list[str], length_scale: float, folder: Path) -> list[Path]:
        script = folder / "sentences.txt"
        script.write_text("\n".join(sentences) + "\n", encoding="utf-8")
        out = folder / "wav"
        run_tool(_command(length_scale, out, "--input-file", str(script)), stage="tts", timeout=TIMEOUT_S)
        # Piper names each file by a rising clock, so their order is the sentences' order.
        return sorted(out.glob("*.wav"), key=lambda wav: int(wav.stem))

    def _close_when_idle(self) -> None:
        """Runs while a kept process exists; closes it after IDLE_S without narration."""
        while True:
            time.sleep(IDLE_S / 4)
            with self._lock:
                if self._kept is None:
                    return
                if self._kept.idle():
                    self._kept.close()
                    self._kept = None
                    return
