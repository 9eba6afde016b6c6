"""Speaker embeddings (Resemblyzer ==0.1.4, Apache-2.0, its 17 MB encoder inside the wheel).

Resemblyzer needs torch, which is too heavy for the CPU install: it is present in the GPU image
only. Elsewhere encoder_available() says so, profiles record that no embedding was made, and the
clone check is skipped (and says it was)."""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

NAME = "Resemblyzer speaker encoder"
# Below this cosine similarity a cloned narration is reported as not sounding like the saved voice
# (same-speaker pairs score ~0.75-0.9 with this encoder, different speakers ~0.5-0.7).
LOW_SIMILARITY = 0.7
_lock = threading.Lock()


def encoder_available() -> str | None:
    try:
        import resemblyzer  # noqa: F401
    except ImportError:
        return "the speaker encoder (Resemblyzer) needs torch, which only the GPU image installs"
    return None


def encoder_info() -> dict:
    device = "gpu" if _torch_cuda() else "cpu"
    return {"name": f"{NAME} ({device.upper()})", "device": device}


def _torch_cuda() -> bool:
    try:
        import torch
        return bool(torch.cuda.is_available())
    except ImportError:
        return False


@lru_cache(maxsize=1)
def _encoder():
    from resemblyzer import VoiceEncoder

    return VoiceEncoder(device="cuda" if _torch_cuda() else "cpu", verbose=False)


def embed(wavs: Sequence[str | Path]) -> list[float]:
    """One L2-normalised embedding for the speaker of these recordings (averaged over them)."""
    from resemblyzer import preprocess_wav

    with _lock:
        encoder = _encoder()
        vectors = [encoder.embed_utterance(preprocess_wav(Path(w))) for w in wavs]
    mean = np.mean(vectors, axis=0)
    return [round(float(v), 6) for v in mean / (np.linalg.norm(mean) or 1.0)]


def similarity(profile_embedding: Sequence[float], wav: str | Path) -> float:
    """Cosine similarity between a saved voice's embedding and the speaker of `wav` (-1..1)."""
    other = np.asarray(embed([wav]))
    mine = np.asarray(profile_embedding, dtype=np.float64)
    return round(float(other @ mine / ((np.linalg.norm(mine) * np.linalg.norm(other)) or 1.0)), 3)


def clone_check_line(profile_embedding: Sequence[float] | None, wav: str | Path) -> str:
    """The result line's note about a cloned narration: "" when it matches the profile, a sentence
    when it does not, or when the check could not run."""
    if not profile_embedding:
        return "voice match not checked (the saved voice has no speaker embedding)"
    reason = encoder_available()
    if reason:
        return f"voice match not checked ({reason})"
    score = similarity(profile_embedding, wav)
    if score < LOW_SIMILARITY:
        return f"the narration sounds unlike the saved voice (speaker similarity {score:.2f}, below {LOW_SIMILARITY})"
    return ""


def profile_key_for(reference_key: str) -> str:
    """The voice profile beside a saved voice: users/<p>/<id>/voices/<name>.wav -> .../voices/<name>/profile.json."""
    return reference_key.rsplit(".", 1)[0] + "/profile.json"


def clone_check_note(storage, reference_key: str | None, audio_keys: Sequence[str], workdir: Path) -> str:
    """For the result line of a narration cloned from a saved voice: a sentence when it sounds unlike
    the voice's profile, "" when it matches, or when there is nothing to compare with here (no
    encoder on this machine, no profile for the voice)."""
    import json

    if not reference_key or not audio_keys or encoder_available():
        return ""
    key = profile_key_for(reference_key)
    if not storage.exists(key):
        return ""
    profile = json.loads(storage.open(key).read())
    embedding = profile.get("embedding")
    if not embedding and profile.get("referenceKey") and storage.exists(profile["referenceKey"]):
        # A profile built on a machine without the encoder: embed its reference clip now.
        local = workdir / "profile-reference.wav"
        storage.get_to_file(profile["referenceKey"], local)
        embedding = embed([local])
    if not embedding:
        return ""
    scores = []
    for n, audio_key in enumerate(audio_keys):
        local = workdir / f"clone-check-{n}.wav"
        storage.get_to_file(audio_key, local)
        scores.append(similarity(embedding, local))
    score = round(sum(scores) / len(scores), 2)
    if score < LOW_SIMILARITY:
        return f"the narration sounds unlike the saved voice (speaker similarity {score:.2f}, below {LOW_SIMILARITY})"
    return ""


def clean_reference_key(storage, reference_key: str) -> str:
    """What a cloning backend should listen to: the voice profile's denoised 6-12 s reference clip
    when the voice has one (train_voice), else the saved sample as it is."""
    import json

    key = profile_key_for(reference_key)
    if storage.exists(key):
        clip = json.loads(storage.open(key).read()).get("referenceKey")
        if clip and storage.exists(clip):
            return clip
    return reference_key
