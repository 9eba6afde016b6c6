// The Discord front-end started against the local Discord emulator with a fake planner, for the
// suites that drive it through discord.js (stopped after the test).
import { startDiscordFrontEnd, type DiscordFrontEnd } from '../../bot/discord/front-end.ts';
import { deployCommands } from '../../bot/discord/deploy-commands.ts';
import type { Studio } from '../../pipeline/studio.ts';
import { fakePlanner, restartableFrontEnd, type RestartableFrontEnd, type TestContextLike } from '../channel/fixtures.ts';
import { startDiscordEmulator, type DiscordEmulator } from '../emulators/discord/server.ts';

export interface DiscordSetupOptions { deploy?: boolean; uploadLimitBytes?: number; plannerSeconds?: number }

export interface Setup extends RestartableFrontEnd<DiscordFrontEnd> {
  emu: DiscordEmulator;
  planner: ReturnType<typeof fakePlanner>;
}

export async function startDiscordBot(
  studio: Studio,
  t: TestContextLike,
  env: Record<string, string> = {},
  options: DiscordSetupOptions = {},
): Promise<Setup> {
  const emu = await startDiscordEmulator(options.uploadLimitBytes ? { uploadLimitBytes: options.uploadLimitBytes } : {});
  if (options.deploy !== false) await deployCommands({ token: emu.botToken, applicationId: emu.applicationId, apiUrl: emu.restBase });
  const planner = fakePlanner({ seconds: options.plannerSeconds ?? 6 });
  const start = () => startDiscordFrontEnd({
    studio,
    planner,
    config: {
      DISCORD_TOKEN: emu.botToken,
      DISCORD_APPLICATION_ID: emu.applicationId,
      DISCORD_API_URL: emu.restBase,
      DISCORD_FILE_HOSTS: `127.0.0.1:${emu.port}`,
      SPINBOT_PROGRESS_EDIT_MS: '150',
      SPINBOT_DAILY_JOBS: '50',
      // Most tests here are about rendering and posting; the approval test turns this off.
      SPINBOT_AUTO_APPROVE: 'true',
      ...env,
    },
    log: () => {},
  });
  return Object.assign(await restartableFrontEnd(t, start, () => emu.stop()), { emu, planner });
}
