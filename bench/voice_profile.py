"""Voice profile on this machine: a ~30 s Piper narration with hiss and hum added (about 10 dB SNR),
denoised with DeepFilterNet3, normalised, transcribed with word timings and cut to a reference clip.
Prints JSON: audio seconds, denoise seconds and real-time factor, whole-profile seconds, SNR before
and after, reference length, peak RSS.

    .venv/bin/python bench/voice_profile.py
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "gpu-bridge" / "worker"))

from spinbot_worker.backends import PiperTts, StageContext, TtsRequest  # noqa: E402
from spinbot_worker.storage import FileStorage  # noqa: E402
from spinbot_worker.training import denoise, voice_profile  # noqa: E402

SCRIPT = ("The old lighthouse keeper climbed the narrow stairs every evening at dusk. "
          "He polished the great lens until it shone, then lit the lamp and watched the ships. "
          "In winter the storms were fierce and the waves broke over the rocks below. "
          "Still, the light never failed, and every ship that passed that night reached the harbour safely. "
          "When he retired, the village gave him a small brass lamp of his own.")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        ctx = StageContext(job_id="bench-voice-profile", attempt=1, storage=FileStorage(work / "data"), workdir=work)
        PiperTts().run(TtsRequest(text=SCRIPT, language="en", voice_engine="espeak-ng", voice_id="en-us", speed=1.0,
                                  reference_key=None, max_seconds=120, out_key="speech.wav"), ctx)
        with wave.open(str(ctx.storage.path_for("speech.wav")), "rb") as source:
            rate = source.getframerate()
            clean = np.frombuffer(source.readframes(source.getnframes()), np.int16).astype(np.float32) / 32768
        rng = np.random.default_rng(0)
        noise = rng.normal(0, 1, len(clean)) + 0.5 * np.sin(2 * np.pi * 50 * np.arange(len(clean)) / rate)
        noisy = np.clip(clean + noise * float(np.sqrt(np.mean(clean ** 2))) / 3 / float(np.sqrt(np.mean(noise ** 2))), -1, 1)
        sample = work / "noisy.wav"
        with wave.open(str(sample), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes((noisy * 32767).astype(np.int16).tobytes())
        seconds = len(noisy) / rate
        at48 = voice_profile._decode(sample, denoise.RATE)
        denoise.denoise(at48[: denoise.RATE])  # model load, not counted
        started = time.perf_counter()
        denoise.denoise(at48)
        denoise_s = time.perf_counter() - started
        started = time.perf_counter()
        profile = voice_profile.build_profile([("bench/noisy.wav", sample)], work)
        profile_s = time.perf_counter() - started
        print(json.dumps({
            "audioSeconds": round(seconds, 1), "denoiseSeconds": round(denoise_s, 2), "denoiseRtf": round(denoise_s / seconds, 3),
            "profileSeconds": round(profile_s, 1), "snrBeforeDb": profile.samples[0].snr_before_db,
            "snrAfterDb": profile.samples[0].snr_after_db, "cleanSpeechSeconds": profile.clean_speech_seconds,
            "referenceSeconds": profile.reference.seconds if profile.reference else None,
            "peakRssMb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }))


if __name__ == "__main__":
    main()
