"""Voice profiles: what cloning needs from a saved voice's samples.

Each sample is decoded, denoised (DeepFilterNet3), loudness-normalised and transcribed with word
timestamps (Whisper). The best 6-12 s stretch of clean speech, cut in the pauses between words,
becomes the reference clip (24 kHz mono WAV) with its transcript; several samples of one voice add
up to the clean-speech total the profile reports. A speaker embedding is added where the encoder
can run (the GPU image); elsewhere the profile says none was made.
"""

from __future__ import annotations

import json
import wave
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .. import asr
from ..errors import StageFailure
from ..tools import run_tool
from . import denoise, speaker

STAGE = "train_voice"
REFERENCE_MIN_S, REFERENCE_MAX_S, REFERENCE_BEST_S = 6.0, 12.0, 9.0
# Clean speech a zero-shot clone needs: one good 6-12 s reference with margin; a fine-tune wants a minute.
ENOUGH_SPEECH_S = 8.0
FINE_TUNE_SPEECH_S = 60.0
OUT_RATE = 24000  # what the cloning workflows take
LOUDNESS = "loudnorm=I=-20:TP=-2:LRA=11"  # speech level, not music: headroom for the cloner
PAUSE_S = 0.25  # a gap this long between words is a pause a cut can go in
CUT_PAD_S = 0.12  # silence kept around the first/last word, never past the middle of the gap


@dataclass
class CleanSample:
    key: str
    wav: Path  # denoised, normalised, 24 kHz mono 16-bit
    snr_before_db: float
    snr_after_db: float
    transcript: asr.Transcript
    speech_seconds: float


@dataclass
class Reference:
    sample: CleanSample
    start: float
    end: float
    text: str
    words: tuple[asr.Word, ...] = field(default_factory=tuple)

    @property
    def seconds(self) -> float:
        return round(self.end - self.start, 3)


def _decode(path: Path, rate: int) -> np.ndarray:
    raw = run_tool(["ffmpeg", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(rate), "-f", "f32le", "-"],
                   stage=STAGE, timeout=120).stdout
    return np.frombuffer(raw, np.float32).copy()


def _write_float_wav(samples: np.ndarray, rate: int, path: Path) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes())


def speech_seconds(words: Sequence[asr.Word]) -> float:
    """Time with someone speaking: word spans joined across gaps shorter than a pause."""
    total, span_start, span_end = 0.0, None, None
    for word in words:
        if span_end is not None and word.start - span_end <= PAUSE_S:
            span_end = max(span_end, word.end)
            continue
        if span_start is not None:
            total += span_end - span_start
        span_start, span_end = word.start, word.end
    if span_start is not None:
        total += span_end - span_start
    return round(total, 2)


def clean_sample(key: str, source: Path, workdir: Path, language: str | None = None) -> CleanSample:
    """One sample denoised, normalised and transcribed with word timings."""
    noisy = _decode(source, denoise.RATE)
    if len(noisy) < denoise.RATE // 2:
        raise StageFailure(STAGE, "BAD_INPUT", f"The voice sample {Path(key).name} holds less than half a second of sound.", False)
    cleaned = denoise.denoise(noisy)
    denoised = workdir / f"{source.stem}-denoised.wav"
    _write_float_wav(cleaned, denoise.RATE, denoised)
    wav = workdir / f"{source.stem}-clean.wav"
    run_tool(["ffmpeg", "-v", "error", "-y", "-i", str(denoised), "-af", LOUDNESS, "-ac", "1", "-ar", str(OUT_RATE),
              "-c:a", "pcm_s16le", str(wav)], stage=STAGE, timeout=120)
    transcript = asr.transcribe(wav, language=language, word_timestamps=True, stage=STAGE)
    regions = _speech_regions(wav)
    # Whisper writes words into noise or silence too: only those the voice detector also hears count.
    words = tuple(w for w in transcript.words if any(a <= (w.start + w.end) / 2 <= b for a, b in regions))
    words = asr.sharpen_starts(wav, words) if words else ()
    text = " ".join(w.text for w in words) if len(words) != len(transcript.words) else transcript.text
    transcript = asr.Transcript(text, transcript.language, transcript.seconds, tuple(words))
    return CleanSample(key, wav, denoise.snr_estimate_db(noisy), denoise.snr_estimate_db(cleaned), transcript,
                       speech_seconds(words))


def _speech_regions(wav: Path) -> list[tuple[float, float]]:
    """Where someone speaks, in seconds: Silero VAD (MIT), which ships inside faster-whisper."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    audio = _decode(wav, 16000)
    found = get_speech_timestamps(audio, VadOptions(min_silence_duration_ms=250, speech_pad_ms=100))
    return [(r["start"] / 16000, r["end"] / 16000) for r in found]


def _ends_sentence(word: asr.Word) -> bool:
    return word.text.rstrip().endswith((".", "!", "?", "…"))


def best_reference(samples: Sequence[CleanSample]) -> Reference | None:
    """The 6-12 s run of whole words to clone from: starting after a pause, ending a sentence,
    near 9 s, from the cleanest sample, with no long silence inside. When no run is 6 s long, the
    longest one there is (the profile then says it is not enough); None: no words were heard."""
    best, best_score = None, float("-inf")
    shortest = REFERENCE_MIN_S
    for sample in samples:
        words = sample.transcript.words
        for i, first in enumerate(words):
            starts_clean = i == 0 or first.start - words[i - 1].end >= PAUSE_S or _ends_sentence(words[i - 1])
            for j in range(i, len(words)):
                last = words[j]
                length = last.end - first.start
                if length > REFERENCE_MAX_S - 2 * CUT_PAD_S:
                    break
                if length < shortest:
                    continue
                ends_clean = j == len(words) - 1 or words[j + 1].start - last.end >= PAUSE_S or _ends_sentence(last)
                longest_gap = max((words[k + 1].start - words[k].end for k in range(i, j)), default=0.0)
                score = (2.0 * starts_clean + 2.0 * ends_clean + 1.0 * _ends_sentence(last)
                         - abs(length - REFERENCE_BEST_S) / 3 - max(0.0, longest_gap - 0.8) * 2 + sample.snr_after_db / 20)
                if score > best_score:
                    best_score = score
                    before = words[i - 1].end if i > 0 else 0.0
                    after = words[j + 1].start if j + 1 < len(words) else sample.transcript.seconds
                    start = max(before + (first.start - before) / 2, first.start - CUT_PAD_S, 0.0)
                    end = min(after - (after - last.end) / 2, last.end + CUT_PAD_S)
                    best = Reference(sample, round(start, 3), round(end, 3), " ".join(w.text for w in words[i:j + 1]),
                                     tuple(words[i:j + 1]))
    if best is None and shortest > 0 and any(s.transcript.words for s in samples):
        return _longest_reference(samples)
    return _end_in_quiet(best) if best else None


def _end_in_quiet(reference: Reference) -> Reference:
    """Whisper's word ends are often early (the last syllable trails on): the cut moves to the quietest
    20 ms between the last word's end and the next word (at most 0.35 s on, never past 12 s), so it
    does not clip the word."""
    words = reference.sample.transcript.words
    last = reference.words[-1]
    following = [w.start for w in words if w.start >= last.end]
    limit = min(following[0] if following else reference.sample.transcript.seconds, last.end + 0.35,
                reference.start + REFERENCE_MAX_S)
    rate, samples = asr.read_wav(reference.sample.wav)
    lo, hi, frame = int(last.end * rate), min(len(samples), int(limit * rate)), rate // 50
    if hi - lo <= frame:
        return reference
    energy = np.convolve(samples[lo:hi] ** 2, np.ones(frame) / frame, mode="valid")
    end = (lo + int(np.argmin(energy)) + frame // 2) / rate
    return Reference(reference.sample, reference.start, round(end, 3), reference.text, reference.words)


def _longest_reference(samples: Sequence[CleanSample]) -> Reference:
    sample = max(samples, key=lambda s: s.transcript.words[-1].end - s.transcript.words[0].start if s.transcript.words else -1)
    words = sample.transcript.words
    while len(words) > 1 and words[-1].end - words[0].start > REFERENCE_MAX_S - 2 * CUT_PAD_S:
        words = words[:-1]
    start = max(words[0].start - CUT_PAD_S, 0.0)
    after = sample.transcript.words[len(words)].start if len(words) < len(sample.transcript.words) else sample.transcript.seconds
    end = min(words[-1].end + CUT_PAD_S, words[-1].end + (after - words[-1].end) / 2)
    return Reference(sample, round(start, 3), round(end, 3), " ".join(w.text for w in words), tuple(words))


def cut(reference: Reference, out: Path) -> Path:
    run_tool(["ffmpeg", "-v", "error", "-y", "-i", str(reference.sample.wav), "-ss", f"{reference.start:.3f}",
              "-to", f"{reference.end:.3f}", "-c:a", "pcm_s16le", str(out)], stage=STAGE, timeout=60)
    return out


@dataclass
class Profile:
    samples: list[CleanSample]
    reference: Reference | None
    reference_wav: Path | None
    embedding: list[float] | None
    note: str

    @property
    def clean_speech_seconds(self) -> float:
        return round(sum(s.speech_seconds for s in self.samples), 2)

    @property
    def enough(self) -> bool:
        return (self.reference is not None and self.reference.seconds >= REFERENCE_MIN_S
                and self.clean_speech_seconds >= ENOUGH_SPEECH_S)

    @property
    def language(self) -> str:
        return self.reference.sample.transcript.language if self.reference else self.samples[0].transcript.language

    def document(self, name: str, reference_key: str | None, backends: dict) -> dict:
        """The stored profile (JSON): what a cloning backend and the chat read."""
        return {
            "name": name, "referenceKey": reference_key,
            "referenceText": self.reference.text if self.reference else "",
            "referenceSeconds": self.reference.seconds if self.reference else 0,
            "language": self.language, "cleanSpeechSeconds": self.clean_speech_seconds, "enough": self.enough,
            "samples": [{"key": s.key, "speechSeconds": s.speech_seconds, "snrBeforeDb": s.snr_before_db,
                         "snrAfterDb": s.snr_after_db, "text": s.transcript.text} for s in self.samples],
            "referenceWords": [asdict(w) for w in self.reference.words] if self.reference else [],
            "embedding": self.embedding, "note": self.note, "backends": backends,
        }


def build_profile(samples: Sequence[tuple[str, Path]], workdir: Path, language: str | None = None,
                  report: Callable[[float, str], None] = lambda percent, message: None) -> Profile:
    """samples: (storage key, local file) pairs of one voice."""
    cleaned = []
    for n, (key, path) in enumerate(samples):
        report(100 * n / (len(samples) + 1), f"Cleaning voice sample {n + 1} of {len(samples)}")
        cleaned.append(clean_sample(key, path, workdir, language))
    report(100 * len(samples) / (len(samples) + 1), "Choosing the reference clip")
    reference = best_reference(cleaned)
    reference_wav = cut(reference, workdir / "reference.wav") if reference else None
    notes = []
    total = round(sum(s.speech_seconds for s in cleaned), 1)
    if reference is None:
        notes.append("No speech was heard in the voice samples: record one where you speak for 10 seconds or more.")
    elif reference.seconds < REFERENCE_MIN_S:
        notes.append(f"The longest stretch of speech is {reference.seconds:.1f} s, shorter than the {REFERENCE_MIN_S:.0f} s "
                     "cloning needs: add a sample where you speak for 10 seconds or more.")
    elif total < ENOUGH_SPEECH_S:
        notes.append(f"Only {total} s of clean speech: add another sample to reach {ENOUGH_SPEECH_S:.0f} s.")
    embedding = None
    reason = speaker.encoder_available()
    if reason:
        notes.append(f"No speaker embedding was made: {reason}.")
    else:
        embedding = speaker.embed([s.wav for s in cleaned])
    return Profile(cleaned, reference, reference_wav, embedding, " ".join(notes)[:300])


def profile_json(document: dict) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
