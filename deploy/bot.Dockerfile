# The bot (front-ends, agent, producer, assembly). Build from the repository root:
#   docker build -f deploy/bot.Dockerfile .
FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
ENV SPINBOT_SKIP_SETUP=1 SPINBOT_DATA_DIR=/data
CMD ["npx", "tsx", "bot/main.ts"]
