// The Telegram front-end started against the local Bot API emulator with a fake planner, for the
// suites that drive it through grammY (stopped after the test), and the wait they all use.
import { startTelegramFrontEnd, type TelegramFrontEnd } from '../../bot/telegram/front-end.ts';
import type { Studio } from '../../pipeline/studio.ts';
import type { ScriptedAnswer } from '../agent/fakeChatModel.ts';
import { fakePlanner, restartableFrontEnd, type RestartableFrontEnd, type TestContextLike } from '../channel/fixtures.ts';
import { startTelegramEmulator, type BotMessage, type TelegramEmulator } from '../emulators/telegram/server.ts';

export interface TelegramSetupOptions {
  plannerSeconds?: number;
  modelScript?: ScriptedAnswer[];
}

export interface TelegramSetup extends RestartableFrontEnd<TelegramFrontEnd> {
  tg: TelegramEmulator;
  planner: ReturnType<typeof fakePlanner>;
}

export async function startTelegramBot(
  studio: Studio,
  t: TestContextLike,
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
  return Object.assign(await restartableFrontEnd(t, start, () => tg.stop()), { tg, planner });
}

/** The first bot message in the chat whose text (or caption) matches. */
export function waitForText(tg: TelegramEmulator, chat: number, pattern: RegExp, timeoutMs = 60_000): Promise<BotMessage> {
  return tg.waitFor(() => tg.botMessages(chat).find((m) => pattern.test(m.text ?? m.caption ?? '')), timeoutMs);
}
