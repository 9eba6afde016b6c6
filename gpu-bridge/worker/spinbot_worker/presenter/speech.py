"""From the narration audio to what the presenter's face does on every video frame.

Mouth shapes come from phonemes recognised in the audio itself (pocketsphinx's all-phone decoder
with its bundled en-US model): it needs no transcript, so it follows any narration voice (espeak-ng,
Piper, a cloned voice) and exactly the audio that is heard. The recogniser's phone labels are
noisy, so they only choose the shape (open, spread, rounded, closed lips, teeth); how far the mouth
opens follows the audio's loudness envelope, which keeps the mouth shut in pauses and in step with
the voice. Shapes blend by a dominance model (each phone pulls the mouth towards its target with a
weight that fades over ~50 ms either side): co-articulation without snapping, and lip closures
(p, b, m) win against their neighbours as they do in speech.
"""

from __future__ import annotations

import hashlib
import io
import wave
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

ANALYSIS_RATE = 100  # tracks are built at 10 ms steps, then sampled at the video frame rate
RECOGNISER_RATE = 16000

# Viseme targets: (open, spread, round, teeth), each 0..1. Twelve shapes (rest included), ARPAbet phones mapped below.
VISEMES: dict[str, tuple[float, float, float, float]] = {
    "rest": (0.0, 0.0, 0.0, 0.0),
    "closed": (0.0, 0.1, 0.0, 0.0),      # p b m: lips pressed
    "lip_teeth": (0.12, 0.15, 0.0, 1.0),  # f v: lower lip under the upper teeth
    "tongue": (0.34, 0.28, 0.0, 0.7),  # th dh t d n l k g ng hh y: the tongue works, the lips follow their neighbours
    "sibilant": (0.16, 0.45, 0.0, 1.0),  # s z
    "postalveolar": (0.3, 0.0, 0.6, 0.8),  # ch jh sh zh
    "open": (1.0, 0.25, 0.0, 0.5),  # aa ah ay aw
    "mid": (0.72, 0.55, 0.0, 0.6),  # eh ae ey
    "spread": (0.38, 0.85, 0.0, 0.8),  # iy ih
    "rounded": (0.62, 0.0, 0.75, 0.3),  # ao ow oy
    "tight_round": (0.3, 0.0, 1.0, 0.2),  # uw uh w
    "r_colour": (0.42, 0.05, 0.55, 0.4),  # er r
}
PHONE_VISEME = {
    "P": "closed", "B": "closed", "M": "closed",
    "F": "lip_teeth", "V": "lip_teeth",
    "TH": "tongue", "DH": "tongue", "T": "tongue", "D": "tongue", "N": "tongue", "L": "tongue",
    "K": "tongue", "G": "tongue", "NG": "tongue", "HH": "tongue", "Y": "tongue",
    "S": "sibilant", "Z": "sibilant",
    "CH": "postalveolar", "JH": "postalveolar", "SH": "postalveolar", "ZH": "postalveolar",
    "AA": "open", "AH": "open", "AY": "open", "AW": "open",
    "EH": "mid", "AE": "mid", "EY": "mid",
    "IY": "spread", "IH": "spread",
    "AO": "rounded", "OW": "rounded", "OY": "rounded",
    "UW": "tight_round", "UH": "tight_round", "W": "tight_round",
    "ER": "r_colour", "R": "r_colour",
}
# How strongly a phone holds the mouth against its neighbours (lip closures and f/v are visible
# articulations and must be reached; vowels are strong; tongue consonants borrow their neighbours' shape).
DOMINANCE = {"closed": 4.0, "lip_teeth": 3.0, "rounded": 1.6, "tight_round": 2.0, "open": 1.5, "mid": 1.4,
             "spread": 1.4, "r_colour": 1.2, "postalveolar": 1.5, "sibilant": 1.0, "tongue": 0.6, "rest": 0.7}
COARTICULATION_SECONDS = 0.045  # sigma of each phone's influence


@dataclass(frozen=True)
class Narration:
    samples: np.ndarray  # mono float32, -1..1
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


@dataclass(frozen=True)
class FaceTracks:
    """Per video frame: mouth (open, spread, round, teeth, closure 0..1), blink (0 open .. 1 shut),
    and head motion (dx, dy as fractions of the face height, roll in degrees)."""
    fps: int
    open: np.ndarray
    spread: np.ndarray
    round: np.ndarray
    teeth: np.ndarray
    blink: np.ndarray
    head_dx: np.ndarray
    head_dy: np.ndarray
    head_roll: np.ndarray
    loudness: np.ndarray  # the normalised loudness envelope the opening follows (tests compare with it)
    phones: tuple[tuple[str, float, float], ...] = ()

    @property
    def frames(self) -> int:
        return len(self.open)


def read_wav(data: bytes) -> Narration:
    """A PCM WAV (8/16/32-bit, any rate, mono or stereo) as mono float samples."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
        raw = wav.readframes(wav.getnframes())
    if width == 1:
        samples = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128
    elif width == 2:
        samples = np.frombuffer(raw, "<i2").astype(np.float32) / 32768
    elif width == 4:
        samples = np.frombuffer(raw, "<i4").astype(np.float32) / 2**31
    else:
        raise ValueError(f"unsupported WAV sample width {width * 8} bits")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return Narration(samples=np.ascontiguousarray(samples, dtype=np.float32), rate=rate)


def loudness_envelope(narration: Narration, rate: int = ANALYSIS_RATE) -> np.ndarray:
    """Loudness per 1/rate s, 0 (silence) .. 1 (the voice's loud parts), from RMS in 40 ms windows."""
    hop = narration.rate / rate
    count = max(1, int(np.ceil(narration.seconds * rate)))
    window = int(narration.rate * 0.04)
    padded = np.concatenate([np.zeros(window // 2, np.float32), narration.samples, np.zeros(window, np.float32)])
    energy = np.concatenate([[0.0], np.cumsum(padded.astype(np.float64) ** 2)])
    starts = (np.arange(count) * hop).astype(np.int64)
    rms = np.sqrt(np.maximum(energy[starts + window] - energy[starts], 0) / window)
    db = 20 * np.log10(rms + 1e-6)
    peak = np.percentile(db, 95) if count > 1 else db.max()
    floor = max(peak - 38.0, -62.0)  # quieter than this is a pause
    return np.clip((db - floor) / (peak - floor + 1e-6), 0.0, 1.0) ** 1.3


def _resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return samples
    from scipy.signal import resample_poly  # noqa: PLC0415 - scipy is only needed here

    divisor = np.gcd(rate, target)
    return resample_poly(samples, target // divisor, rate // divisor).astype(np.float32)


@lru_cache(maxsize=1)
def _phone_model() -> tuple[str, str]:
    from pocketsphinx import get_model_path  # noqa: PLC0415

    base = Path(get_model_path())
    return str(base / "en-us" / "en-us"), str(base / "en-us" / "en-us-phone.lm.bin")


def recognise_phones(narration: Narration) -> list[tuple[str, float, float]]:
    """(ARPAbet phone, start s, end s) recognised in the audio; silences included as SIL."""
    from pocketsphinx import Decoder  # noqa: PLC0415 - loaded only where the presenter runs

    hmm, phone_lm = _phone_model()
    pcm = np.clip(_resample(narration.samples, narration.rate, RECOGNISER_RATE) * 32767, -32768, 32767)
    decoder = Decoder(hmm=hmm, allphone=phone_lm, lw=2.0, pip=0.3, beam=1e-10, pbeam=1e-10,
                      samprate=RECOGNISER_RATE, loglevel="FATAL")
    decoder.start_utt()
    decoder.process_raw(pcm.astype("<i2").tobytes(), full_utt=True)
    decoder.end_utt()
    return [(seg.word.upper(), seg.start_frame / 100, (seg.end_frame + 1) / 100) for seg in decoder.seg()]


def _gaussian(series: np.ndarray, sigma_steps: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d  # noqa: PLC0415

    return gaussian_filter1d(series, sigma_steps, axis=0, mode="nearest")


def viseme_targets(phones: list[tuple[str, float, float]], steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Per 10 ms step: the phone's viseme target (steps x 4) and its dominance weight."""
    targets = np.zeros((steps, 4), np.float32)
    dominance = np.full(steps, DOMINANCE["rest"], np.float32)
    for phone, start, end in phones:
        viseme = PHONE_VISEME.get(phone, "rest")
        first, last = int(start * ANALYSIS_RATE), min(steps, max(int(end * ANALYSIS_RATE), int(start * ANALYSIS_RATE) + 1))
        targets[first:last] = VISEMES[viseme]
        dominance[first:last] = DOMINANCE[viseme]
    return targets, dominance


def _seed(narration: Narration) -> int:
    return int.from_bytes(hashlib.sha256(narration.samples[:: max(1, narration.rate // 200)].tobytes()).digest()[:8], "little")


def _blinks(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Eyelid closure per 10 ms: a blink every 2-6 s, shutting in ~70 ms and opening in ~110 ms."""
    steps = max(1, int(np.ceil(seconds * ANALYSIS_RATE)))
    closure = np.zeros(steps, np.float32)
    moment = rng.uniform(0.8, 2.5)
    shape = np.concatenate([np.linspace(0, 1, 8)[1:], np.linspace(1, 0, 12)[1:]]).astype(np.float32)
    while moment < seconds - 0.3:
        at = int(moment * ANALYSIS_RATE)
        span = closure[at:at + len(shape)]
        span[:] = np.maximum(span, shape[:len(span)])
        moment += rng.uniform(2.0, 6.0)
    return closure


def _head_motion(seconds: float, loudness: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Slow sway (sums of sines with random phases) and small nods on stressed syllables."""
    t = np.arange(len(loudness)) / ANALYSIS_RATE

    def sway(amplitude: float, periods: tuple[float, ...]) -> np.ndarray:
        total = sum(np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi)) / (i + 1)
                    for i, period in enumerate(periods))
        return (amplitude * total / sum(1 / (i + 1) for i in range(len(periods)))).astype(np.float32)

    emphasis = _gaussian(np.maximum(np.diff(_gaussian(loudness, 8), prepend=0), 0) * 14, 18)
    dx = sway(0.012, (7.3, 3.1, 11.0))
    dy = sway(0.007, (5.3, 2.3)) + np.clip(emphasis, 0, 1).astype(np.float32) * 0.008
    roll = sway(1.6, (6.1, 2.9, 9.7))
    return dx, dy, roll


def face_tracks(narration: Narration, fps: int, frames: int | None = None,
                phones: list[tuple[str, float, float]] | None = None) -> FaceTracks:
    """Everything the face does, per video frame, for this narration (deterministic for the audio)."""
    frames = frames if frames is not None else max(1, int(round(narration.seconds * fps)))
    loudness = loudness_envelope(narration)
    steps = len(loudness)
    phones = recognise_phones(narration) if phones is None else phones
    targets, dominance = viseme_targets(phones, steps)

    sigma = COARTICULATION_SECONDS * ANALYSIS_RATE
    weights = _gaussian(dominance, sigma)
    shape = _gaussian(targets * dominance[:, None], sigma) / weights[:, None]
    closure = _gaussian((targets[:, 0] == 0) * (dominance >= DOMINANCE["closed"]) * dominance, sigma) / weights
    level = _gaussian(loudness, 1.5)
    # Loudness decides how far the mouth opens, the viseme how (a recogniser's 'silence' inside a loud
    # stretch still opens it); a lip closure pulls it shut whatever the loudness.
    opening = level * (0.35 + 0.65 * shape[:, 0]) * (1 - np.clip(closure, 0, 1) * 0.9)

    rng = np.random.default_rng(_seed(narration))
    blink = _blinks(narration.seconds, rng)
    head_dx, head_dy, head_roll = _head_motion(narration.seconds, loudness, rng)

    # Sample the 10 ms tracks at the video frames' times.
    at = np.minimum((np.arange(frames) / fps * ANALYSIS_RATE).astype(np.int64), steps - 1)
    blink_at = np.minimum(at, len(blink) - 1)
    speaking = np.clip(level[at] * 2.5, 0, 1)  # lips relax towards neutral in pauses
    return FaceTracks(
        fps=fps,
        open=np.clip(opening[at], 0, 1).astype(np.float32),
        spread=(shape[at, 1] * speaking).astype(np.float32),
        round=(shape[at, 2] * speaking).astype(np.float32),
        teeth=(shape[at, 3] * speaking).astype(np.float32),
        blink=blink[blink_at],
        head_dx=head_dx[at], head_dy=head_dy[at], head_roll=head_roll[at],
        loudness=loudness[at].astype(np.float32),
        phones=tuple(phones),
    )
