// Configuration from the environment, validated once per process. Secrets (tokens, passwords in
// URLs) are read here and never printed: describeConfig() shows only what is safe.
import { join } from 'node:path';
import { z } from 'zod';
import { modelInfo, modelReady, modelsNeeded } from '../setup/models.mjs';
import { REPO_ROOT } from '../pipeline/services.ts';
import { ChatEnv, describeChatConfig } from './chat-config.ts';

const optionalUrl = z.preprocess((v) => (v === '' ? undefined : v), z.url().optional());

const Env = z.object({
  REDIS_URL: optionalUrl.refine((v) => !v || /^rediss?:\/\//.test(v), 'REDIS_URL must start with redis:// or rediss://'),
  SPINBOT_DATA_DIR: z.string().default(join(REPO_ROOT, 'data')),
  SPINBOT_STATE_DIR: z.string().default(join(REPO_ROOT, '.spinbot')),
  OLLAMA_BASE_URL: optionalUrl,
  OLLAMA_MODEL: z.string().default('qwen2.5:7b-instruct'),
}).extend(ChatEnv.shape);

/** The console chat runs when no chat token is set; otherwise Discord and/or Telegram. */
export type Config = z.infer<typeof Env> & { frontEnd: 'console' | 'chat' };

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid configuration: ${problems}`, { cause: parsed.error });
  }
  const chat = parsed.data.DISCORD_TOKEN || parsed.data.TELEGRAM_BOT_TOKEN;
  return { ...parsed.data, frontEnd: chat ? 'chat' : 'console' };
}

/** What `npm start` may print about its configuration: no tokens, no passwords. */
export function describeConfig(config: Config, env: NodeJS.ProcessEnv = process.env): string {
  const redis = config.REDIS_URL ? new URL(config.REDIS_URL).host : 'private redis-server';
  const llm = config.OLLAMA_BASE_URL ? `Ollama ${config.OLLAMA_MODEL}` : 'embedded model (CPU)';
  const base = `queue: ${redis} · planner: ${llm} · data: ${config.SPINBOT_DATA_DIR} · ${describeModels(env)}`;
  return config.frontEnd === 'chat' ? `${base} · ${describeChatConfig(config)}` : base;
}

/** The models set-up fetched for `npm start`, and for each missing one what is used instead. */
export function describeModels(env: NodeJS.ProcessEnv = process.env): string {
  const needed = modelsNeeded('start', env).map(modelInfo);
  const missing = needed.filter((m) => !modelReady(m.id, env));
  const ready = needed.filter((m) => !missing.includes(m)).map((m) => m.name);
  const models = `models: ${ready.length ? ready.join(', ') : 'none'}`;
  return missing.length ? `${models} · without ${missing.map((m) => `${m.id} (instead: ${m.fallback})`).join('; ')}` : models;
}
