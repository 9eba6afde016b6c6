# ComfyUI, the worker's one GPU engine; docker-compose.yml builds it with ./deploy as the context.
# Built here, not pulled: community ComfyUI images publish moving tags (cu128, latest) that do not
# pin a ComfyUI release. The base is the worker's, so one CUDA/PyTorch sits on disk.
FROM pytorch/pytorch:2.9.1-cuda12.8-cudnn9-runtime

# The ComfyUI commit whose /object_info the workflows are tested against
# (gpu-bridge/worker/tests/fixtures/comfyui/object_info.json.gz, version 0.33.0): bump both together.
ARG COMFYUI_REPOSITORY=https://github.com/comfyanonymous/ComfyUI
ARG COMFYUI_COMMIT=783545f689a0af730065994b46b382ae24844c99
# Custom node packs the shipped workflows need, at the commits their node definitions were read from
# (gpu-bridge/worker/tests/fixtures/comfyui/custom_nodes.json): cloned narration and lip-sync.
ARG CHATTERBOX_REPOSITORY=https://github.com/filliptm/ComfyUI_Fill-ChatterBox
ARG CHATTERBOX_COMMIT=0467a163005fff388f2803a801ae8a77f305909b
ARG LATENTSYNC_REPOSITORY=https://github.com/ShmuelRonen/ComfyUI-LatentSyncWrapper
ARG LATENTSYNC_COMMIT=23cdca2ef8aabdcd9711b410a4d8771904f30396
# MuseTalk (workflows/lipsync-musetalk): no MuseTalk pack is maintained any more (the last code
# changes of all four are from 2024). kijai's is the one built on ComfyUI's own types (IMAGE, VAE,
# MODEL), so the face crop, mask and paste-back are core nodes; AudioBridge (MIT, 2026) turns core
# LoadAudio's AUDIO into the tensor its Whisper node takes.
ARG MUSETALK_REPOSITORY=https://github.com/kijai/ComfyUI-MuseTalk-KJ
ARG MUSETALK_COMMIT=fe908e93ea08d3b3303362c3e19928351f53234b
ARG AUDIOBRIDGE_REPOSITORY=https://github.com/RyanHolanda/ComfyUI-AudioBridge
ARG AUDIOBRIDGE_COMMIT=8083da9c5156ac0e31389aa6d5287e1a997c6b39
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ffmpeg libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

# A commit, not a branch: fetch exactly it (a shallow clone cannot check out an arbitrary commit).
RUN set -eu; fetch() { mkdir -p "$3" && cd "$3" && git init -q && git remote add origin "$1" \
        && git fetch -q --depth 1 origin "$2" && git checkout -q FETCH_HEAD && rm -rf .git; }; \
    fetch "${COMFYUI_REPOSITORY}" "${COMFYUI_COMMIT}" /opt/ComfyUI; \
    fetch "${CHATTERBOX_REPOSITORY}" "${CHATTERBOX_COMMIT}" /opt/ComfyUI/custom_nodes/ComfyUI_Fill-ChatterBox; \
    fetch "${LATENTSYNC_REPOSITORY}" "${LATENTSYNC_COMMIT}" /opt/ComfyUI/custom_nodes/ComfyUI-LatentSyncWrapper; \
    fetch "${MUSETALK_REPOSITORY}" "${MUSETALK_COMMIT}" /opt/ComfyUI/custom_nodes/ComfyUI-MuseTalk-KJ; \
    fetch "${AUDIOBRIDGE_REPOSITORY}" "${AUDIOBRIDGE_COMMIT}" /opt/ComfyUI/custom_nodes/ComfyUI-AudioBridge
# kijai's MuseTalk loader builds its UNet from a bare config class; ComfyUI since mid-2024 reads
# custom_operations, optimizations and memory_usage_factor from it (kijai/ComfyUI-MuseTalk-KJ issues
# 9 and 11, open). Deriving the class from ComfyUI's own model-config base supplies their defaults.
RUN set -eu; nodes=/opt/ComfyUI/custom_nodes/ComfyUI-MuseTalk-KJ/nodes.py; \
    grep -q '^class MuseModelConfig:$' "$nodes"; \
    sed -i -e '1i import comfy.supported_models_base' \
           -e 's/^class MuseModelConfig:$/class MuseModelConfig(comfy.supported_models_base.BASE):/' "$nodes"; \
    grep -q '^class MuseModelConfig(comfy.supported_models_base.BASE):$' "$nodes"
# Same guard as the worker: the requirements name torch unpinned; keep the base's CUDA build.
RUN python -c "import importlib.metadata as m; have = {d.metadata['Name'].lower() for d in m.distributions()}; print('\n'.join(f'{p}=={m.version(p)}' for p in ('torch', 'torchvision', 'torchaudio') if p in have))" \
        > /tmp/torch-constraints.txt \
    && grep -q '^torch==' /tmp/torch-constraints.txt \
    && pip install --no-cache-dir -c /tmp/torch-constraints.txt -r /opt/ComfyUI/requirements.txt \
    && for pack in /opt/ComfyUI/custom_nodes/*/; do \
         if [ -f "${pack}requirements.txt" ]; then pip install --no-cache-dir -c /tmp/torch-constraints.txt -r "${pack}requirements.txt"; fi; \
       done

RUN useradd --create-home --uid 1000 comfy \
    && mkdir -p /opt/ComfyUI/input /opt/ComfyUI/output /opt/ComfyUI/user /opt/ComfyUI/models \
    && chown -R comfy:comfy /opt/ComfyUI/input /opt/ComfyUI/output /opt/ComfyUI/user \
    # The lip-sync and voice packs download their weights into their own folders on first use
    # (MuseTalk's UNet into models/musetalk, its Whisper tiny into the pack's folder).
    && chown -R comfy:comfy /opt/ComfyUI/custom_nodes
# Trained and uploaded style LoRAs land in output/loras/ (SaveLoRA, the worker's upload): LoraLoader lists them too.
RUN printf 'spinbot:\n  base_path: /opt/ComfyUI/output\n  loras: loras\n' > /opt/ComfyUI/extra_model_paths.yaml
USER comfy
WORKDIR /opt/ComfyUI
EXPOSE 8188
CMD ["python", "main.py", "--listen", "0.0.0.0", "--port", "8188"]
