// `npm start` lands here after set-up: the console chat (no chat token set), the Discord and/or
// Telegram front-ends, or a one-shot command.
import { isUserError } from '../pipeline/errors.ts';
import { stopOnSignals } from '../pipeline/services.ts';
import { openStudio } from '../pipeline/studio.ts';
import { runGenerateCommand, runPlanCommand } from './cli.ts';
import { describeConfig, loadConfig } from './config.ts';
import { runConsoleChat } from './console/chat.ts';
import { startChatFrontEnds } from './frontends.ts';
import { createPlanner } from './planner.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  const [command, ...args] = process.argv.slice(2);
  if (command === 'generate') return runGenerateCommand(args, config);
  if (command === 'plan') return runPlanCommand(args, config);
  if (command !== undefined) throw new Error(`Unknown command "${command}". Use: npm start  |  npm start -- generate "<prompt>"  |  npm start -- plan "<prompt>" --json`);

  process.stderr.write(`Starting: ${describeConfig(config)}\n`);
  const planner = createPlanner(config);
  const studio = await openStudio({ dataDir: config.SPINBOT_DATA_DIR, stateDir: config.SPINBOT_STATE_DIR, redisUrl: config.REDIS_URL });
  if (config.frontEnd === 'console') {
    const stop = () => studio.close();
    stopOnSignals(stop);
    try {
      await runConsoleChat({ studio, planner, autoApprove: config.SPINBOT_AUTO_APPROVE });
    } finally {
      await stop();
    }
    return;
  }
  // Discord and/or Telegram: run until SIGINT/SIGTERM, then stop the front-ends before the studio.
  let frontEnds: Awaited<ReturnType<typeof startChatFrontEnds>>;
  try {
    frontEnds = await startChatFrontEnds({ studio, planner, config });
  } catch (error) {
    await studio.close();
    throw error;
  }
  process.stderr.write(`Running: ${frontEnds.started.join(' and ')}. Ctrl-C stops everything.\n`);
  stopOnSignals(() => frontEnds.stop().then(() => studio.close()));
  await new Promise(() => {}); // until a signal
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${isUserError(error) ? error.message : `Error: ${(error as Error).message}`}\n`);
    process.exit(1);
  },
);
