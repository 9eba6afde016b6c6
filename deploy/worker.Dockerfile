# The Python worker. The CPU backends need only ffmpeg and espeak-ng; GPU backends (a later
# release) add a CUDA PyTorch base and requirements-gpu.txt.
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg espeak-ng fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY gpu-bridge/worker/requirements.txt gpu-bridge/worker/requirements.txt
RUN pip install --no-cache-dir -r gpu-bridge/worker/requirements.txt
COPY gpu-bridge/ gpu-bridge/
ENV PYTHONPATH=/app/gpu-bridge/worker PYTHONUNBUFFERED=1 SPINBOT_DATA_DIR=/data
CMD ["python", "-m", "spinbot_worker"]
