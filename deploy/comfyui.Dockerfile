# ComfyUI for the visuals stage; docker-compose.yml builds it with ./deploy as the context.
# Built here, not pulled: community ComfyUI images publish moving tags (cu128, latest) that do not
# pin a ComfyUI release. The base is the worker's, so one CUDA/PyTorch sits on disk.
FROM pytorch/pytorch:2.9.1-cuda12.8-cudnn9-runtime

# A ComfyUI release tag; bump it deliberately (workflows are tested against one release).
ARG COMFYUI_VERSION=v0.3.77
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ffmpeg libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

RUN git clone --depth 1 --branch "${COMFYUI_VERSION}" https://github.com/Comfy-Org/ComfyUI.git /opt/ComfyUI
# Same guard as the worker: ComfyUI's requirements name torch unpinned; keep the base's CUDA build.
RUN python -c "import importlib.metadata as m; have = {d.metadata['Name'].lower() for d in m.distributions()}; print('\n'.join(f'{p}=={m.version(p)}' for p in ('torch', 'torchvision', 'torchaudio') if p in have))" \
        > /tmp/torch-constraints.txt \
    && grep -q '^torch==' /tmp/torch-constraints.txt \
    && pip install --no-cache-dir -c /tmp/torch-constraints.txt -r /opt/ComfyUI/requirements.txt

RUN useradd --create-home --uid 1000 comfy \
    && mkdir -p /opt/ComfyUI/input /opt/ComfyUI/output /opt/ComfyUI/user /opt/ComfyUI/models \
    && chown -R comfy:comfy /opt/ComfyUI/input /opt/ComfyUI/output /opt/ComfyUI/user
USER comfy
WORKDIR /opt/ComfyUI
EXPOSE 8188
CMD ["python", "main.py", "--listen", "0.0.0.0", "--port", "8188"]
