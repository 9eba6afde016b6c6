"""Speech recognition on the CPU: faster-whisper (CTranslate2) with a Whisper model from the model cache.

Used for the words of a saved voice sample (voice cloning needs them), and by the tests and bench as
a quality check: narration round-tripped through ASR, scored as word error rate against its text.
"""

from __future__ import annotations

import re
import threading
from difflib import SequenceMatcher
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from .errors import StageFailure
from .models import model_dir, model_info, model_ready

DEFAULT_MODEL = "whisper-base"  # multilingual
FAST_ENGLISH_MODEL = "whisper-tiny-en"
# Human names for the result line; the licence comes from setup/models.json.
MODEL_NAMES = {"whisper-base": "Whisper base (CPU)", "whisper-tiny-en": "Whisper tiny.en (CPU)"}


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    seconds: float  # of audio
    words: tuple[Word, ...] = ()


def asr_available(model_id: str = DEFAULT_MODEL) -> str | None:
    """None when the model can run here, else why not (a sentence for the user)."""
    if not model_ready(model_id):
        return f"the speech recognition model is not in the model cache (run: node setup/models.mjs fetch {model_id})"
    return None


def asr_info(model_id: str = DEFAULT_MODEL) -> dict:
    return {"name": MODEL_NAMES[model_id], "device": "cpu", "licence": model_info(model_id)["licence"]}


# One model of each kind per process, shared by the job threads; CTranslate2 is not re-entrant per model.
_lock = threading.Lock()


@lru_cache(maxsize=2)
def _model(model_id: str):
    from faster_whisper import WhisperModel  # import here: ~1 s, only where speech is recognised

    # int8: the fastest on CPUs without a loss that shows in these short, clear recordings.
    return WhisperModel(str(model_dir(model_id)), device="cpu", compute_type="int8")


def transcribe(audio: str | Path, *, model_id: str = DEFAULT_MODEL, language: str | None = None,
               word_timestamps: bool = False, stage: str = "transcribe") -> Transcript:
    """What is said in the audio file (any format ffmpeg reads). language None: detected."""
    reason = asr_available(model_id)
    if reason:
        raise StageFailure(stage, "BACKEND_UNAVAILABLE", f"Speech recognition cannot run: {reason}.", False)
    if language and model_id.endswith("-en") and not language.startswith("en"):
        raise StageFailure(stage, "BAD_INPUT", f"{MODEL_NAMES[model_id]} understands only English, not {language}.", False)
    with _lock:
        model = _model(model_id)
        # Greedy decoding: a short sample or one scene does not gain enough from a beam to pay for it here.
        segments, info = model.transcribe(str(audio), language=language.split("-")[0] if language else None,
                                          beam_size=1, word_timestamps=word_timestamps, vad_filter=False,
                                          condition_on_previous_text=False)
        segments = list(segments)
    words = tuple(Word(w.word.strip(), round(float(w.start), 3), round(float(w.end), 3))
                  for segment in segments for w in (segment.words or ()))
    text = " ".join(segment.text.strip() for segment in segments).strip()
    return Transcript(text=text, language=info.language, seconds=round(float(info.duration), 3), words=words)


def normalize_words(text: str) -> list[str]:
    """Lower case words without punctuation or accents, for comparing what was meant with what was heard."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.findall(r"[\w']+", text.replace("’", "'"))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / words of the reference, after normalize_words."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i]
        for j, hyp_word in enumerate(hyp, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1] / len(ref)


def match_words(reference: str, words: Sequence[Word]) -> list[Word | None]:
    """For each word of the reference text (as normalize_words splits it), the recognised word its
    first letter was heard in, or None where it was not heard: how a known text is timed against a
    transcript. Letters, not words, are matched, so "sunlight" heard as "sun light" still lines up;
    a letter counts only inside a run of 3 or more matching letters (no chance single-letter hits)."""
    ref_words = normalize_words(reference)
    ref_letters, word_starts = [], set()
    for word in ref_words:
        word_starts.add(len(ref_letters))
        ref_letters.extend(word)
    heard_letters, owners = [], []
    for word in words:
        for token in normalize_words(word.text):
            heard_letters.extend(token)
            owners.extend([word] * len(token))
    matched: list[Word | None] = [None] * len(ref_words)
    word_of_letter = [i for i, word in enumerate(ref_words) for _ in word]
    for block in SequenceMatcher(None, ref_letters, heard_letters, autojunk=False).get_matching_blocks():
        if block.size < 3:
            continue
        for offset in range(block.size):
            if block.a + offset in word_starts:
                matched[word_of_letter[block.a + offset]] = owners[block.b + offset]
    return matched


def read_wav(wav: str | Path):
    """A 16-bit mono WAV as (rate, float32 samples in -1..1), read directly (no ffmpeg process)."""
    import wave

    import numpy as np

    with wave.open(str(wav), "rb") as source:
        rate = source.getframerate()
        return rate, np.frombuffer(source.readframes(source.getnframes()), dtype=np.int16).astype(np.float32) / 32768


def sharpen_starts(wav: str | Path, words: Sequence[Word], level: float = 0.02) -> tuple[Word, ...]:
    """Whisper's word starts moved to where the sound begins: after a silence (a scene change) Whisper
    often starts the next word up to ~0.5 s early. Each start moves to the first 10 ms window louder
    than `level` (of full scale) within the word, never later than the word's end. 16-bit mono WAV."""
    import numpy as np

    rate, samples = read_wav(wav)
    window = max(1, rate // 100)
    loud = np.sqrt(np.convolve(samples * samples, np.ones(window) / window, mode="same")) > level
    sharpened = []
    for word in words:
        first, last = int(word.start * rate), min(len(loud), int(word.end * rate))
        hits = np.flatnonzero(loud[first:last])
        start = (first + int(hits[0])) / rate if len(hits) else word.start
        sharpened.append(Word(word.text, round(start, 3), word.end))
    return tuple(sharpened)
