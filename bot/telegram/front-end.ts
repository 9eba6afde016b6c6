// The Telegram front-end: publishes the command menu, polls for updates and runs the bot until
// stop(). Long work (downloads, planning, renders) runs outside the update loop.
import { mib, resolveChatConfig } from '../chat-config.ts';
import { createJobServices, redactor, stopOnce, type FrontEnd, type FrontEndDeps } from '../frontends.ts';
import { JobRunner } from '../jobs.ts';
import { ChatPacer, TelegramChannel } from './channel.ts';
import type { TelegramServices } from './context.ts';
import { createBot, TELEGRAM_COMMANDS } from './create-bot.ts';

export interface TelegramFrontEnd extends FrontEnd {
  jobs: JobRunner;
}

export async function startTelegramFrontEnd(deps: FrontEndDeps): Promise<TelegramFrontEnd> {
  const config = resolveChatConfig(deps.config);
  const token = config.TELEGRAM_BOT_TOKEN;
  if (!token) throw new Error('TELEGRAM_BOT_TOKEN is not set.');
  // The token is part of every Bot API and file URL: keep it out of the logs.
  const log = redactor([token], deps.log ?? ((line: string) => process.stderr.write(`[telegram] ${line}\n`)));
  // Jobs started before a restart are shown (and delivered) through a channel rebuilt from their record.
  const { services: shared, close } = createJobServices(deps, config, log, {
    platform: 'telegram',
    resume: (destination) => services.channelFor(destination.chatId, destination.userId, destination.statusRef),
  });
  const { jobs, asks } = shared;
  const pacer = new ChatPacer(Math.min(config.SPINBOT_PROGRESS_EDIT_MS, 1000));
  const tasks = new Set<Promise<unknown>>();

  let bot: ReturnType<typeof createBot>;
  const services: TelegramServices = {
    ...shared,
    token,
    editing: {
      set: (thread, planId) => deps.studio.jobs.setNote(`telegram-edit:${thread}`, planId, 24 * 3600),
      take: (thread) => deps.studio.jobs.takeNote(`telegram-edit:${thread}`),
    },
    downloads: {
      allowedHosts: [new URL(config.TELEGRAM_API_ROOT).host],
      maxBytes: mib(Math.min(config.TELEGRAM_DOWNLOAD_LIMIT_MB, config.SPINBOT_MAX_UPLOAD_MB)),
    },
    channelFor: (chatId, userId, statusRef) =>
      new TelegramChannel(bot.api, chatId, userId, {
        statusMessageId: statusRef && /^\d+$/.test(statusRef) ? Number(statusRef) : undefined,
        asks,
        pacer,
        uploadLimitBytes: mib(config.TELEGRAM_UPLOAD_LIMIT_MB),
        progressIntervalMs: config.SPINBOT_PROGRESS_EDIT_MS,
        log,
      }),
    background: (name, task) => {
      const running = task().catch((error: unknown) => log(`${name}: ${(error as Error)?.stack ?? String(error)}`));
      tasks.add(running);
      void running.finally(() => tasks.delete(running));
    },
  };
  bot = createBot(services);

  try {
    await bot.init();
    await bot.api.setMyCommands(TELEGRAM_COMMANDS);
  } catch (error) {
    await close();
    throw new Error(`Telegram start-up failed: ${(error as Error).message}`, { cause: error });
  }
  const polling = bot.start({ drop_pending_updates: false, allowed_updates: ['message', 'callback_query'] });
  polling.catch((error: unknown) => log(`polling stopped: ${String(error)}`));
  log(`connected as @${bot.botInfo.username}`);
  // Jobs still in the works and outcomes made while the bot was down are taken up now.
  await jobs.resume();

  const disconnect = async () => {
    // bot.stop() confirms the handled updates with one last getUpdates; the server may be gone.
    if (bot.isRunning()) await bot.stop().catch((error: unknown) => log(`stop: ${String(error)}`));
    await polling.catch(() => {});
    await Promise.allSettled([...tasks]);
  };
  return { jobs, stop: stopOnce(shared, disconnect, close) };
}
