// Starting the chat front-ends: what bot/main.ts calls. Each front-end gets the same deps (the
// studio, the planner, the configuration) and returns stop(); startChatFrontEnds starts every
// front-end whose token is set.
import type { Studio } from '../pipeline/studio.ts';
import { JobLimits, RedisDailyCounter } from './access.ts';
import { PendingAsks } from './channel.ts';
import { resolveChatConfig, type ChatConfig } from './chat-config.ts';
import { createConversation } from './conversation.ts';
import { JobRunner, type JobRunnerDeps } from './jobs.ts';
import { ReferenceImages, VoiceLibrary } from './uploads/voices.ts';
import { sampleTranscriber } from '../gpu-bridge/transcribe.ts';
import { voiceProfileAfterSave } from './train.ts';
import type { ConversationAgent } from '../agent/conversation/index.ts';
import type { Planner } from './planner.ts';

export interface FrontEndDeps {
  studio: Studio;
  planner: Planner;
  /**
   * A parsed ChatConfig (loadChatConfig(), or bot/config.ts's Config once it merges ChatEnv), or
   * an env-like object with the variables of bot/chat-config.ts (tests).
   */
  config: ChatConfig | Record<string, unknown>;
  /** Where the front-end logs (default: stderr). Tokens are redacted from every line. */
  log?: (line: string) => void;
}

export interface FrontEnd {
  stop(): Promise<void>;
}

/** Replaces every secret that occurs in a log line (tokens can appear in URLs, e.g. Telegram file links). */
export function redactor(secrets: Array<string | undefined>, log: (line: string) => void): (line: string) => void {
  const present = secrets.filter((s): s is string => Boolean(s && s.length >= 8));
  return (line) => log(present.reduce((text, secret) => text.split(secret).join('<redacted>'), line));
}

/** What every chat front-end's handlers use, whatever the platform. */
export interface ChatServices {
  config: ChatConfig;
  studio: Studio;
  planner: Planner;
  jobs: JobRunner;
  voices: VoiceLibrary;
  images: ReferenceImages;
  asks: PendingAsks;
  conversation: ConversationAgent;
  log(line: string): void;
}

/**
 * What every chat front-end builds on: per-user limits, the voice library and reference pictures,
 * jobs, pending questions, the conversation. close() releases the Redis connections it opened.
 */
export function createJobServices(
  deps: FrontEndDeps,
  config: ChatConfig,
  log: (line: string) => void,
  delivery: Pick<JobRunnerDeps, 'platform' | 'resume'>,
): { services: ChatServices; close(): Promise<void> } {
  const limits = new JobLimits({
    maxRunning: config.SPINBOT_MAX_RUNNING_JOBS,
    daily: config.SPINBOT_DAILY_JOBS,
    counter: new RedisDailyCounter(deps.studio.services.redisUrl),
  });
  // A saved voice gets its profile (clean speech, reference clip) built after its transcript, without delaying the reply.
  const voices = new VoiceLibrary(deps.studio.storage, {
    maxVoices: config.SPINBOT_MAX_VOICES,
    transcribe: sampleTranscriber(deps.studio.queue),
    profile: voiceProfileAfterSave(deps.studio.queue, log),
  });
  const jobs = new JobRunner({ studio: deps.studio, voices, limits, minVideoKbps: config.SPINBOT_MIN_VIDEO_KBPS, planner: deps.planner.label, log, ...delivery });
  const conversation = createConversation(deps.studio, deps.planner, { autoApprove: config.SPINBOT_AUTO_APPROVE });
  return {
    services: {
      config,
      studio: deps.studio,
      planner: deps.planner,
      jobs,
      voices,
      images: new ReferenceImages(deps.studio.storage),
      asks: new PendingAsks(),
      conversation: conversation.agent,
      log,
    },
    close: async () => {
      await Promise.all([limits.close(), conversation.close()]);
    },
  };
}

/**
 * A chat front-end's stop(), the same order on every platform and run once however often it is
 * called: open questions end unanswered, the job runner stops following jobs (their renders go on
 * in the queue and are taken up at the next start), then the platform connection is let go
 * (`disconnect`), and the shared services are released even when a step before failed.
 */
export function stopOnce(services: Pick<ChatServices, 'asks' | 'jobs'>, disconnect: () => Promise<void>, close: () => Promise<void>): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () =>
    (stopping ??= (async () => {
      try {
        services.asks.closeAll();
        await services.jobs.close();
        await disconnect();
      } finally {
        await close();
      }
    })());
}

export async function startChatFrontEnds(deps: FrontEndDeps): Promise<FrontEnd & { started: Array<'discord' | 'telegram'> }> {
  const config = resolveChatConfig(deps.config);
  const running: Array<{ name: 'discord' | 'telegram'; frontEnd: FrontEnd }> = [];
  const stopAll = async () => {
    await Promise.allSettled(running.map((r) => r.frontEnd.stop()));
  };
  try {
    if (config.DISCORD_TOKEN) {
      const { startDiscordFrontEnd } = await import('./discord/front-end.ts');
      running.push({ name: 'discord', frontEnd: await startDiscordFrontEnd({ ...deps, config }) });
    }
    if (config.TELEGRAM_BOT_TOKEN) {
      const { startTelegramFrontEnd } = await import('./telegram/front-end.ts');
      running.push({ name: 'telegram', frontEnd: await startTelegramFrontEnd({ ...deps, config }) });
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  return { started: running.map((r) => r.name), stop: stopAll };
}
