// Who may use the bot and how much: allow-lists from the environment (checked before anything
// else happens, so a refused user never starts a job), a limit on each user's queued-or-running
// jobs, and a daily quota counted in Redis (it survives restarts; keys expire after two days).
import { Redis } from 'ioredis';
import { redisOptions } from '../gpu-bridge/producer.ts';
import { UserError } from '../pipeline/errors.ts';
import type { ChatConfig } from './chat-config.ts';
import type { Owner } from './uploads/voices.ts';

const REFUSED = "Sorry, this MySpinBot is private: you're not on its allow-list. Ask the person who runs it to add you.";

/**
 * Discord: with no allow-list entries everyone may use the bot; otherwise an interaction is
 * allowed when its guild is listed or its user is listed (a listed user may also use DMs).
 */
export function checkDiscordAccess(config: Pick<ChatConfig, 'DISCORD_ALLOWED_GUILD_IDS' | 'DISCORD_ALLOWED_USER_IDS'>, who: { userId: string; guildId: string | null }): void {
  const guilds = config.DISCORD_ALLOWED_GUILD_IDS;
  const users = config.DISCORD_ALLOWED_USER_IDS;
  if (!guilds.length && !users.length) return;
  if (users.includes(who.userId) || (who.guildId !== null && guilds.includes(who.guildId))) return;
  throw new UserError('access.denied', REFUSED);
}

/** Telegram: the same rule with chats in place of guilds. */
export function checkTelegramAccess(config: Pick<ChatConfig, 'TELEGRAM_ALLOWED_CHAT_IDS' | 'TELEGRAM_ALLOWED_USER_IDS'>, who: { userId: string; chatId: string }): void {
  const chats = config.TELEGRAM_ALLOWED_CHAT_IDS;
  const users = config.TELEGRAM_ALLOWED_USER_IDS;
  if (!chats.length && !users.length) return;
  if (users.includes(who.userId) || chats.includes(who.chatId)) return;
  throw new UserError('access.denied', REFUSED);
}

export interface DailyCounter {
  /** Adds one to today's count for the key and returns the new count. */
  increment(key: string): Promise<number>;
  /** Takes one back (a job that was refused after counting). */
  decrement(key: string): Promise<void>;
  close(): Promise<void>;
}

export class RedisDailyCounter implements DailyCounter {
  private readonly redis: Redis;
  constructor(redisUrl: string) {
    const { maxRetriesPerRequest: _blocking, ...options } = redisOptions(redisUrl);
    this.redis = new Redis({ ...options, maxRetriesPerRequest: 3, lazyConnect: true });
    // Connection errors surface on the command that needed Redis; no unhandled 'error' events.
    this.redis.on('error', () => {});
  }
  async increment(key: string): Promise<number> {
    const [[, count]] = (await this.redis.multi().incr(key).expire(key, 2 * 24 * 3600).exec()) as [[Error | null, number]];
    return count;
  }
  async decrement(key: string): Promise<void> {
    await this.redis.decr(key);
  }
  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

export class MemoryDailyCounter implements DailyCounter {
  private readonly counts = new Map<string, number>();
  async increment(key: string): Promise<number> {
    const count = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, count);
    return count;
  }
  async decrement(key: string): Promise<void> {
    this.counts.set(key, Math.max(0, (this.counts.get(key) ?? 0) - 1));
  }
  async close(): Promise<void> {}
}

export interface JobLimitsOptions {
  maxRunning: number;
  /** 0 = no daily limit. */
  daily: number;
  counter: DailyCounter;
  now?: () => Date;
}

export class JobLimits {
  constructor(private readonly options: JobLimitsOptions) {}

  /** Refuses a new job when the user already has maxRunning queued or running. */
  checkRunning(running: number): void {
    const max = this.options.maxRunning;
    if (max > 0 && running >= max) {
      throw new UserError(
        'limit.running',
        max === 1
          ? 'You already have a video in the works. Wait for it to finish, or /cancel it, before starting another.'
          : `You already have ${running} videos in the works (the limit is ${max}). Wait for one to finish, or /cancel one.`,
      );
    }
  }

  /**
   * Counts one job against today's quota, or refuses it when the quota is used up. Returns the
   * counter it was counted in (for refundDaily), or undefined when there is no quota.
   */
  async consumeDaily(owner: Owner): Promise<string | undefined> {
    const daily = this.options.daily;
    if (daily <= 0) return undefined;
    const now = (this.options.now ?? (() => new Date()))();
    const key = `spinbot:quota:${owner.platform}:${owner.userId}:${now.toISOString().slice(0, 10)}`;
    const count = await this.options.counter.increment(key);
    if (count > daily) {
      await this.options.counter.decrement(key);
      const midnight = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
      const hours = Math.max(1, Math.ceil((midnight.getTime() - now.getTime()) / 3_600_000));
      throw new UserError('limit.daily', `You've used today's quota of ${daily} video${daily === 1 ? '' : 's'}. It resets at midnight UTC (in about ${hours} h).`);
    }
    return key;
  }

  /** Gives back one job counted by consumeDaily (a cancelled job does not use up the quota). */
  async refundDaily(counted: string | undefined): Promise<void> {
    if (counted) await this.options.counter.decrement(counted);
  }

  close(): Promise<void> {
    return this.options.counter.close();
  }
}
