// `npm start` lands here after set-up: the console chat, or a one-shot command.
import { isUserError } from '../pipeline/errors.ts';
import { stopOnSignals } from '../pipeline/services.ts';
import { openStudio } from '../pipeline/studio.ts';
import { runGenerateCommand, runPlanCommand } from './cli.ts';
import { describeConfig, loadConfig } from './config.ts';
import { runConsoleChat } from './console/chat.ts';
import { createPlanner } from './planner.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  const [command, ...args] = process.argv.slice(2);
  if (command === 'generate') return runGenerateCommand(args, config);
  if (command === 'plan') return runPlanCommand(args, config);
  if (command !== undefined) throw new Error(`Unknown command "${command}". Use: npm start  |  npm start -- generate "<prompt>"  |  npm start -- plan "<prompt>" --json`);

  if (config.DISCORD_TOKEN || config.TELEGRAM_BOT_TOKEN) {
    process.stderr.write('Note: this build has only the console chat; the Discord and Telegram front-ends come next.\n');
  }
  process.stderr.write(`Starting: ${describeConfig(config)}\n`);
  const planner = createPlanner(config);
  const studio = await openStudio({ dataDir: config.SPINBOT_DATA_DIR, stateDir: config.SPINBOT_STATE_DIR, redisUrl: config.REDIS_URL });
  const stop = () => studio.close();
  stopOnSignals(stop);
  try {
    await runConsoleChat({ studio, planner });
  } finally {
    await stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${isUserError(error) ? error.message : `Error: ${(error as Error).message}`}\n`);
    process.exit(1);
  },
);
