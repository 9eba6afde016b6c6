// `npm start` lands here after set-up: the console chat (no chat token set), the Discord and/or
// Telegram front-ends, or a one-shot command.
import { loadApiSettings, startApi } from '../api/index.ts';
import { isUserError } from '../pipeline/errors.ts';
import { openStudio, type Studio } from '../pipeline/studio.ts';
import { createShutdown } from '../pipeline/supervisor.ts';
import { runGenerateCommand, runPlanCommand } from './cli.ts';
import { describeConfig, loadConfig } from './config.ts';
import { runDoctorCommand } from './doctor.ts';
import { runConsoleChat } from './console/chat.ts';
import { startChatFrontEnds } from './frontends.ts';
import { createPlanner } from './planner.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  const [command, ...args] = process.argv.slice(2);
  if (command === 'generate') return runGenerateCommand(args, config);
  if (command === 'plan') return runPlanCommand(args, config);
  if (command === 'doctor') return runDoctorCommand();
  if (command !== undefined) throw new Error(`Unknown command "${command}". Use: npm start  |  npm start -- generate "<prompt>"  |  npm start -- plan "<prompt>" --json  |  npm start -- doctor`);

  // A bad API setting (port, keys) stops the start here, before anything runs.
  const apiSettings = loadApiSettings();
  process.stderr.write(`Starting: ${describeConfig(config)}\n`);
  // One shutdown for every way of stopping (signals, a crash, /quit): front-ends first, then the
  // queue connections, then the worker, then Redis (closing queue connections after Redis has
  // gone would wait forever), each step bounded, all of it within 10 s.
  let studio: Studio | undefined;
  let frontEnds: { stop(): Promise<void> } | undefined;
  let api: { stop(): Promise<void> } | undefined;
  const shutdown = createShutdown({
    deadlineMs: 9000,
    force: () => studio?.services.killNow(),
    onStart: () => studio?.services.stopRestarting(),
    steps: () => [
      { name: 'the front-ends', withinMs: 2000, run: () => frontEnds?.stop() ?? Promise.resolve() },
      // The studio closes its queue connections, then stops the worker and Redis: this step is over
      // when it gets there. If a connection hangs (Redis gone or hung), the next step goes on without it.
      {
        name: 'the queue connections',
        withinMs: 2000,
        run: () => studio?.close() ?? Promise.resolve(),
        handedOn: () => studio?.services.stopping ?? false,
      },
      // Worker (2.5 s to finish its job) then Redis (1.5 s), each SIGKILLed past that.
      { name: 'the worker and redis-server', withinMs: 4500, run: () => studio?.services.stop() ?? Promise.resolve() },
    ],
  });
  shutdown.listen();
  const planner = createPlanner(config);
  studio = await openStudio({ dataDir: config.SPINBOT_DATA_DIR, stateDir: config.SPINBOT_STATE_DIR, redisUrl: config.REDIS_URL });
  // The HTTP API runs beside whichever front-end starts (console or chat).
  if (apiSettings) {
    api = await startApi({ studio, planner, config }, apiSettings).catch(async (error: unknown) => {
      await studio?.close();
      throw error;
    });
  }
  if (config.frontEnd === 'console') {
    await runConsoleChat({ studio, planner, autoApprove: config.SPINBOT_AUTO_APPROVE });
    return shutdown.stop('quit', 0);
  }
  const started = await startChatFrontEnds({ studio, planner, config }).catch(async (error: unknown) => {
    await studio?.close();
    throw error;
  });
  frontEnds = started;
  process.stderr.write(`Running: ${started.started.join(' and ')}. Ctrl-C stops everything.\n`);
  await new Promise(() => {}); // until a signal, a crash or /quit
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${isUserError(error) ? error.message : `Error: ${(error as Error).message}`}\n`);
    process.exit(1);
  },
);
