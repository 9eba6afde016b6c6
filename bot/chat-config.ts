// Settings of the Discord and Telegram front-ends, from the environment, validated once with zod.
// Keys keep their environment names so this object can be merged into bot/config.ts's schema
// (Env.extend(ChatEnv.shape)) without renaming. Tokens are read here and never printed:
// describeChatConfig() shows only what is safe.
import { z } from 'zod';

const empty = (v: unknown) => (v === '' ? undefined : v);
const optionalText = z.preprocess(empty, z.string().min(1).optional());
const snowflake = z.string().regex(/^\d{5,25}$/, 'must be a numeric Discord ID');

/** "a, b ,c" -> ['a','b','c']; unset or empty -> the fallback. */
function csv(item: z.ZodString, fallback: string[] = []) {
  return z.preprocess(
    (v) => (typeof v === 'string' ? (v.trim() ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined) : v),
    z.array(item).default(fallback),
  );
}
const telegramId = z.string().regex(/^-?\d{1,20}$/, 'must be a numeric Telegram ID');
const megabytes = (fallback: number) => z.preprocess(empty, z.coerce.number().positive().max(2048).default(fallback));
const count = (fallback: number) => z.preprocess(empty, z.coerce.number().int().min(0).max(100_000).default(fallback));

export const ChatEnv = z.object({
  DISCORD_TOKEN: optionalText,
  DISCORD_APPLICATION_ID: z.preprocess(empty, snowflake.optional()),
  /** REST base given to discord.js (`rest.api`). */
  DISCORD_API_URL: z.preprocess(empty, z.url().default('https://discord.com/api')),
  /** deploy-commands.ts registers the commands in this guild only (instant); unset: globally. */
  DISCORD_GUILD_ID: z.preprocess(empty, snowflake.optional()),
  /** Hosts attachments may be downloaded from. */
  DISCORD_FILE_HOSTS: csv(z.string().min(1), ['cdn.discordapp.com', 'media.discordapp.net']),
  DISCORD_UPLOAD_LIMIT_MB: megabytes(10),
  DISCORD_ALLOWED_GUILD_IDS: csv(snowflake),
  DISCORD_ALLOWED_USER_IDS: csv(snowflake),

  TELEGRAM_BOT_TOKEN: optionalText,
  /** Bot API root given to grammY (`client.apiRoot`); files are downloaded from its /file/ path. */
  TELEGRAM_API_ROOT: z.preprocess(empty, z.url().default('https://api.telegram.org')),
  TELEGRAM_UPLOAD_LIMIT_MB: megabytes(50),
  TELEGRAM_DOWNLOAD_LIMIT_MB: megabytes(20),
  TELEGRAM_ALLOWED_CHAT_IDS: csv(telegramId),
  TELEGRAM_ALLOWED_USER_IDS: csv(telegramId),

  /** Jobs one user may have queued or running at once. */
  SPINBOT_MAX_RUNNING_JOBS: count(1),
  /** Jobs one user may start per UTC day; 0 = no limit. */
  SPINBOT_DAILY_JOBS: count(20),
  /** Largest voice sample or reference picture accepted (also capped by the platform). */
  SPINBOT_MAX_UPLOAD_MB: megabytes(20),
  /** Saved voices per user. */
  SPINBOT_MAX_VOICES: count(20),
  /** Quality floor when re-encoding a clip to fit an upload limit; below it a link is posted. */
  SPINBOT_MIN_VIDEO_KBPS: count(300),
  /** Minimum time between two edits of a status message. */
  SPINBOT_PROGRESS_EDIT_MS: count(1200),
  /** Render plans at once instead of asking Approve / Edit / Cancel first ("true" or "false"). */
  SPINBOT_AUTO_APPROVE: z
    .enum(['true', 'false', '1', '0', ''])
    .default('false')
    .transform((value) => value === 'true' || value === '1'),
});

export type ChatConfig = z.infer<typeof ChatEnv>;

export function loadChatConfig(env: Record<string, string | undefined> = process.env): ChatConfig {
  const parsed = ChatEnv.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid configuration: ${problems}`, { cause: parsed.error });
  }
  return parsed.data;
}

/**
 * The front-ends accept either a parsed ChatConfig (bot/config.ts once it merges ChatEnv) or a
 * plain env-like object (tests), which is parsed here.
 */
export function resolveChatConfig(config: ChatConfig | Record<string, unknown>): ChatConfig {
  const candidate = config as Partial<ChatConfig>;
  if (Array.isArray(candidate.DISCORD_FILE_HOSTS) && typeof candidate.SPINBOT_MAX_RUNNING_JOBS === 'number') return candidate as ChatConfig;
  return loadChatConfig(config as Record<string, string | undefined>);
}

export const mib = (mb: number) => Math.floor(mb * 1024 * 1024);

/** What may be printed about the front-ends: no tokens. */
export function describeChatConfig(config: ChatConfig): string {
  const parts: string[] = [];
  if (config.DISCORD_TOKEN) {
    const allow = config.DISCORD_ALLOWED_GUILD_IDS.length + config.DISCORD_ALLOWED_USER_IDS.length;
    parts.push(`discord (${new URL(config.DISCORD_API_URL).host}; ${allow ? `${allow} allow-list entries` : 'open to everyone'})`);
  }
  if (config.TELEGRAM_BOT_TOKEN) {
    const allow = config.TELEGRAM_ALLOWED_CHAT_IDS.length + config.TELEGRAM_ALLOWED_USER_IDS.length;
    parts.push(`telegram (${new URL(config.TELEGRAM_API_ROOT).host}; ${allow ? `${allow} allow-list entries` : 'open to everyone'})`);
  }
  parts.push(`limits: ${config.SPINBOT_MAX_RUNNING_JOBS} running, ${config.SPINBOT_DAILY_JOBS || 'unlimited'} per day per user`);
  return parts.join(' · ');
}
