"""What the CPU narration backends share. The narration is spoken sentence by sentence and the
sentences joined with a short pause, so the worker knows when each sentence is heard: subtitles are
timed to that, not estimated. Narration that would overrun its scene is spoken again faster, capped.
"""

from __future__ import annotations

import re
import shutil
import wave
from abc import abstractmethod
from pathlib import Path, PurePosixPath

import numpy as np

from ..errors import StageFailure
from ..tools import wav_seconds
from .base import SpokenSentence, StageContext, TtsBackend, TtsRequest, TtsResult

MAX_SPEEDUP = 1.6  # beyond this speech becomes hard to follow
FIT_TRIES = 2  # re-recordings at most, to fit a scene
SENTENCE_PAUSE_S = 0.3  # between two sentences, as a reader would breathe
EDGE_S = 0.05  # silence kept before and after each sentence's speech
# A sample louder than this (of full scale) is speech: finds where each sentence is heard.
SPEECH_LEVEL = 0.02
# A sentence ends at . ! ? … (or their CJK forms) followed by a space; no split inside "3.5" or "e.g.x".
_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])\s+")
_SPEAKABLE = re.compile(r"\w")


def split_sentences(text: str) -> list[str]:
    """The narration's sentences, whitespace collapsed; a piece with nothing to say ("...") joins the one before."""
    sentences: list[str] = []
    for piece in _SENTENCE_END.split(" ".join(text.split())):
        if sentences and not _SPEAKABLE.search(piece):
            sentences[-1] = f"{sentences[-1]} {piece}"
        elif piece:
            sentences.append(piece)
    return sentences


def _read_mono16(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise StageFailure("tts", "INTERNAL", f"{path.name}: expected 16-bit mono audio from the voice.", True)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16), wav.getframerate()


def join_sentences(sentences: list[str], wavs: list[Path], out: Path, pause_s: float = SENTENCE_PAUSE_S) -> list[SpokenSentence]:
    """Writes the sentences' audio one after another into `out`, a pause between them; returns when
    each sentence is heard (from its first to its last sample above SPEECH_LEVEL)."""
    pieces, timings, rate, position = [], [], None, 0
    for text, path in zip(sentences, wavs, strict=True):
        samples, sample_rate = _read_mono16(path)
        if rate is not None and sample_rate != rate:
            raise StageFailure("tts", "INTERNAL", "The voice changed its sample rate between sentences.", True)
        rate = sample_rate
        if pieces:
            silence = np.zeros(int(rate * pause_s), dtype=np.int16)
            pieces.append(silence)
            position += len(silence)
        loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > SPEECH_LEVEL * 32767)
        if len(loud):
            # The voice's own leading and trailing silence goes: the pause alone separates sentences.
            samples = samples[max(0, int(loud[0]) - int(rate * EDGE_S)): int(loud[-1]) + 1 + int(rate * EDGE_S)]
            loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > SPEECH_LEVEL * 32767)
        first, last = (int(loud[0]), int(loud[-1]) + 1) if len(loud) else (0, len(samples))
        timings.append(SpokenSentence(text=text, start=round((position + first) / rate, 3), end=round((position + last) / rate, 3)))
        pieces.append(samples)
        position += len(samples)
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate or 22050)
        wav.writeframes(np.concatenate(pieces).tobytes() if pieces else b"")
    return timings


class SentenceTts(TtsBackend):
    """A tts backend that records sentence by sentence: subclasses say how one batch of sentences is spoken."""

    stage = "tts"

    @abstractmethod
    def speak_sentences(self, request: TtsRequest, sentences: list[str], speed: float, folder: Path) -> list[Path]:
        """One WAV (16-bit mono) per sentence, in order, written into `folder`."""

    def run(self, request: TtsRequest, ctx: StageContext) -> TtsResult:
        sentences = split_sentences(request.text)
        if not sentences:
            raise StageFailure("tts", "BAD_INPUT", "The scene's narration has no words to speak.", False)
        wav = ctx.workdir / PurePosixPath(request.out_key).name
        speedup = 1.0
        timings = self._record(request, sentences, request.speed, wav, ctx)
        seconds = wav_seconds(str(wav))
        for _ in range(FIT_TRIES):
            if seconds <= request.max_seconds or speedup >= MAX_SPEEDUP:
                break
            # Too long for its scene: speak faster (proportionally, with a little headroom), capped.
            # A voice does not speed up exactly as asked, hence a second try from where the first landed.
            speedup = min(MAX_SPEEDUP, speedup * seconds / request.max_seconds * 1.04)
            timings = self._record(request, sentences, request.speed * speedup, wav, ctx)
            seconds = wav_seconds(str(wav))
        ctx.storage.put_file(request.out_key, wav)
        return TtsResult(audio_seconds=round(seconds, 3), sentences=tuple(timings))

    def _record(self, request: TtsRequest, sentences: list[str], speed: float, wav: Path, ctx: StageContext) -> list[SpokenSentence]:
        folder = ctx.workdir / f"{wav.stem}-sentences"
        shutil.rmtree(folder, ignore_errors=True)  # a re-recording at another speed starts clean
        folder.mkdir()
        parts = self.speak_sentences(request, sentences, speed, folder)
        if len(parts) != len(sentences):
            raise StageFailure("tts", "INTERNAL", f"{self.name} spoke {len(parts)} of {len(sentences)} sentences.", True)
        return join_sentences(sentences, parts, wav, pause_s=SENTENCE_PAUSE_S / speed)
