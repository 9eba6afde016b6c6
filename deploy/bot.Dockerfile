# The bot: chat front-ends, planner (Ollama in the compose stack), producer, ffmpeg assembly.
# Build from the repository root: docker build -f deploy/bot.Dockerfile .
# (deploy/bot.Dockerfile.dockerignore keeps node_modules, .venv, data and .git out of the context.)
FROM node:20.19.5-bookworm-slim

# ffmpeg/ffprobe for assembly and upload checks, espeak-ng for CPU narration, DejaVu for subtitles.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg espeak-ng fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY package.json package-lock.json ./
# node-llama-cpp's CUDA and Vulkan builds (about 600 MB) go: in this stack Ollama plans, and the
# embedded fallback model runs on the CPU build.
RUN npm ci --omit=dev --no-audit --no-fund \
    && rm -rf node_modules/@node-llama-cpp/linux-x64-cuda* node_modules/@node-llama-cpp/linux-x64-vulkan \
    && npm cache clean --force
COPY . .

# Named volumes copy this ownership on first use, so the unprivileged user can write them.
RUN mkdir -p /data /state && chown node:node /data /state
USER node
ENV SPINBOT_SKIP_SETUP=1 SPINBOT_DATA_DIR=/data SPINBOT_STATE_DIR=/state
# `node --import tsx` rather than the tsx CLI: one process, so SIGTERM reaches the bot itself.
CMD ["node", "--import", "tsx", "bot/main.ts"]
