// The Telegram front-end started against the local Bot API emulator with a fake planner, for the
// suites that drive it through grammY (stopped after the test), and the wait they all use.
import { startTelegramFrontEnd, type TelegramFrontEnd } from '../../bot/telegram/front-end.ts';
import type { Studio } from '../../pipeline/studio.ts';
import type { ScriptedAnswer } from '../agent/fakeChatModel.ts';
import { fakePlanner } from '../channel/fixtures.ts';
import { startTelegramEmulator, type BotMessage, type TelegramEmulator } from '../emulators/telegram/server.ts';

export interface TelegramSetupOptions {
  plannerSeconds?: number;
  modelScript?: ScriptedAnswer[];
}

export interface TelegramSetup {
  tg: TelegramEmulator;
  /** The front-end running now (a new one after startBot()). */
  readonly bot: TelegramFrontEnd;
  planner: ReturnType<typeof fakePlanner>;
  /** Stops the front-end, as a bot going down would (the emulator and the studio go on). */
  stopBot(): Promise<void>;
  /** Starts a new front-end with the same settings against the same emulator: the bot back up. */
  startBot(): Promise<void>;
}

export async function startTelegramBot(
  studio: Studio,
  t: { after(fn: () => unknown): void },
  env: Record<string, string> = {},
  options: TelegramSetupOptions = {},
): Promise<TelegramSetup> {
  const tg = await startTelegramEmulator();
  const planner = fakePlanner({ seconds: options.plannerSeconds ?? 6, modelScript: options.modelScript });
  const start = () => startTelegramFrontEnd({
    studio,
    planner,
    config: {
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.apiRoot,
      SPINBOT_PROGRESS_EDIT_MS: '150',
      SPINBOT_DAILY_JOBS: '50',
      ...env,
    },
    log: () => {},
  });
  let bot = await start();
  let running = true;
  // The bot stops first (its last getUpdates confirms what it handled), then the emulator.
  t.after(async () => {
    if (running) await bot.stop();
    await tg.stop();
  });
  return {
    tg,
    planner,
    get bot() {
      return bot;
    },
    async stopBot() {
      running = false;
      await bot.stop();
    },
    async startBot() {
      bot = await start();
      running = true;
    },
  };
}

/** The first bot message in the chat whose text (or caption) matches. */
export function waitForText(tg: TelegramEmulator, chat: number, pattern: RegExp, timeoutMs = 60_000): Promise<BotMessage> {
  return tg.waitFor(() => tg.botMessages(chat).find((m) => pattern.test(m.text ?? m.caption ?? '')), timeoutMs);
}
