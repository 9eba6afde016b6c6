"""Narration and speech recognition on this machine: real-time factor (compute s / audio s), peak RSS,
and the quality checks (Whisper WER of the narration, sentence timings against Whisper's word times).

    .venv/bin/python bench/voice.py            # every case, each in a fresh process (so RSS is its own)
    .venv/bin/python bench/voice.py piper      # one case, as JSON

Cases: piper, espeak-ng (narration of a ~30 s script), whisper-base, whisper-tiny-en (recognising the
Piper narration, with word timestamps: the cost the voice-sample transcript and the checks pay).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "gpu-bridge" / "worker"))

SCRIPT = (
    "Sunlight looks white, but it is really a mix of every colour of the rainbow. "
    "As it crosses the air, tiny gas molecules scatter some of that light in every direction. "
    "Short blue waves are scattered far more strongly than the long red ones. "
    "So wherever you look, blue light reaches your eyes from every part of the sky. "
    "At sunset the light travels through much more air, and most of the blue is scattered away. "
    "What is left is the warm orange and red glow we love at the end of the day."
)
CASES = ("piper", "espeak-ng", "whisper-base", "whisper-tiny-en")


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children: unlike wall time, not
    inflated by other work on a shared machine."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def narrate(backend_name: str, folder: Path):
    from spinbot_worker.backends import EspeakTts, PiperTts, StageContext, TtsRequest
    from spinbot_worker.storage import FileStorage

    backend = {"piper": PiperTts, "espeak-ng": EspeakTts}[backend_name]()
    work = folder / "work"
    work.mkdir(exist_ok=True)
    ctx = StageContext(job_id="bench-voice", attempt=1, storage=FileStorage(folder / "data"), workdir=work)
    request = TtsRequest(text=SCRIPT, language="en", voice_engine="espeak-ng", voice_id="en-us", speed=1.0,
                         reference_key=None, max_seconds=60, out_key="jobs/bench-voice/scene-01.wav")
    started, cpu = time.perf_counter(), cpu_seconds()
    result = backend.run(request, ctx)
    return result, time.perf_counter() - started, ctx.storage.path_for(request.out_key), cpu_seconds() - cpu


def one(case: str) -> dict:
    from spinbot_worker import asr

    with tempfile.TemporaryDirectory(prefix="bench-voice-") as tmp:
        folder = Path(tmp)
        if case in ("piper", "espeak-ng"):
            result, seconds, wav, cpu = narrate(case, folder)
            engine_rss = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)  # before Whisper loads
            heard = asr.transcribe(wav, model_id="whisper-base", language="en", word_timestamps=True)
            raw, sharpened = asr.match_words(SCRIPT, heard.words), asr.match_words(SCRIPT, asr.sharpen_starts(wav, heard.words))
            offsets, raw_offsets, first = [], [], 0
            for sentence in result.sentences:
                if sharpened[first] is not None:
                    offsets.append(abs(sentence.start - sharpened[first].start))
                    raw_offsets.append(abs(sentence.start - raw[first].start))
                first += len(asr.normalize_words(sentence.text))
            return {"case": case, "audio_s": result.audio_seconds, "compute_s": round(seconds, 2),
                    "rtf": round(seconds / result.audio_seconds, 3), "cpu_s": round(cpu, 2),
                    "wer_whisper_base": round(asr.word_error_rate(SCRIPT, heard.text), 3),
                    "sentence_start_error_max_s": round(max(offsets), 3) if offsets else None,
                    "vs_raw_whisper_max_s": round(max(raw_offsets), 3) if raw_offsets else None,
                    "sentences_checked": f"{len(offsets)}/{len(result.sentences)}", "engine_peak_rss_mb": engine_rss}
        _, _, wav, _ = narrate("piper", folder)
        started, cpu = time.perf_counter(), cpu_seconds()
        heard = asr.transcribe(wav, model_id=case, language="en", word_timestamps=True)
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        own = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        return {"case": case, "audio_s": heard.seconds, "compute_s": round(seconds, 2),
                "rtf": round(seconds / heard.seconds, 3), "cpu_s": round(cpu, 2), "wer": round(asr.word_error_rate(SCRIPT, heard.text), 3),
                "note": "first call: includes loading the model", "peak_rss_mb": own}


def main() -> None:
    if len(sys.argv) > 1:
        print(json.dumps(one(sys.argv[1])))
        return
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (other work inflates every figure)")
    for case in CASES:
        done = subprocess.run([sys.executable, __file__, case], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{case}: failed: {done.stderr.strip()[-500:]}")
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(" ".join(f"{k}={v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
