// The scriptable faces of the product:
//   npm start -- generate "<prompt>" [--seconds N] [--out FILE]   writes a clip, exits 0
//   npm start -- plan "<prompt>" [--seconds N] --json            prints the validated plan
// Failures print one clear line on stderr and exit 1; nothing is enqueued for bad input.
import { constants } from 'node:fs';
import { access, mkdir, open, rm, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ScriptPlan } from '../gpu-bridge/contracts/index.ts';
import { LIMITS } from '../gpu-bridge/contracts/index.ts';
import { parseSecondsValue } from '../agent/nodes/understand.ts';
import { UserError } from '../pipeline/errors.ts';
import { stopOnSignals } from '../pipeline/services.ts';
import { openStudio } from '../pipeline/studio.ts';
import { type Config } from './config.ts';
import { ProgressBoard } from './console/progress.ts';
import { formatClip, formatLicences } from './format.ts';
import { createPlanner } from './planner.ts';

const USAGE = 'Usage: npm start -- generate "<prompt>" [--seconds N] [--out FILE]  |  npm start -- plan "<prompt>" [--seconds N] --json';

interface Request {
  prompt: string;
  seconds?: number;
  out?: string;
  json: boolean;
}

export function parseRequest(args: string[]): Request {
  let parsed;
  try {
    parsed = parseArgs({
      // "--seconds -5" is a (bad) length, not a flag: joined so that it gets the range sentence.
      args: args.map((arg, i) => (arg === '--seconds' && args[i + 1]?.startsWith('-') ? `--seconds=${args[i + 1]}` : arg)).filter((arg, i) => !(args[i - 1] === '--seconds' && arg.startsWith('-'))),
      allowPositionals: true,
      options: { seconds: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean', default: false } },
    });
  } catch (error) {
    throw new UserError('prompt.empty', `${(error as Error).message}. ${USAGE}`);
  }
  const prompt = parsed.positionals.join(' ');
  const raw = parsed.values.seconds;
  let seconds: number | undefined;
  try {
    // The rule every place a length is written follows (agent/nodes/understand.ts): "0x10" and "1e1" are not lengths.
    seconds = raw === undefined ? undefined : parseSecondsValue(raw);
  } catch (error) {
    throw new UserError('seconds.outOfRange', `--seconds must be a number from ${LIMITS.minSeconds} to ${LIMITS.maxSeconds}; got "${raw}".`, { cause: error });
  }
  return { prompt, seconds, out: parsed.values.out, json: parsed.values.json ?? false };
}

/** Fails now, not after a render, when the clip could not be written to `out`. */
export async function checkWritable(out: string): Promise<void> {
  const path = resolve(out);
  const existed = await stat(path).then((s) => s, () => null);
  if (existed?.isDirectory()) throw new UserError('output.unwritable', `--out ${out} is a directory; give a file name such as ${out}/clip.mp4.`);
  try {
    await access(dirname(path), constants.W_OK);
    const handle = await open(path, 'a');
    await handle.close();
    if (!existed) await rm(path, { force: true });
  } catch (error) {
    throw new UserError('output.unwritable', `Cannot write --out ${out}: ${(error as NodeJS.ErrnoException).code ?? 'not writable'}. Choose a file in a folder you can write to.`, { cause: error });
  }
}

export async function runPlanCommand(args: string[], config: Config): Promise<void> {
  const request = parseRequest(args);
  const planner = createPlanner(config);
  const plan = await planner.plan(request);
  process.stdout.write(request.json ? `${JSON.stringify(plan, null, 2)}\n` : `${JSON.stringify(plan)}\n`);
}

export async function runGenerateCommand(args: string[], config: Config): Promise<void> {
  const request = parseRequest(args);
  const planner = createPlanner(config);
  planner.validate(request);
  if (request.out) await checkWritable(request.out);

  const board = new ProgressBoard(process.stderr);
  // The worker starts while the planner thinks; both take a few seconds.
  // A one-shot command serves no metrics: the long-running bot beside it may hold that port.
  const studioReady = openStudio({
    dataDir: config.SPINBOT_DATA_DIR,
    stateDir: config.SPINBOT_STATE_DIR,
    redisUrl: config.REDIS_URL,
    env: { ...process.env, SPINBOT_METRICS_PORT: '' },
  });
  studioReady.catch(() => {}); // awaited below; avoid an unhandled rejection while planning
  let plan: ScriptPlan;
  try {
    board.update({ stage: 'plan', percent: 0, message: `Planning with ${planner.label}` });
    plan = await planner.plan(request);
    board.update({ stage: 'plan', percent: 100, message: `${plan.scenes.length} scenes` });
  } catch (error) {
    await studioReady.then((s) => s.close(), () => {});
    throw error;
  }
  const studio = await studioReady;
  const stop = () => studio.close();
  // Restarts off first: a group SIGTERM (systemd, Ctrl-C) reaches the worker and Redis too.
  stopOnSignals(stop, { onStart: () => studio.services.stopRestarting() });
  try {
    const clip = await studio.render({ plan, requestedBy: { platform: 'cli', userId: process.env.USER ?? 'local' } }, (p) => board.update(p));
    board.complete();
    let location = clip.location;
    if (request.out) {
      location = resolve(request.out);
      await mkdir(dirname(location), { recursive: true });
      await studio.storage.getToFile(clip.key, location);
    }
    process.stdout.write(`${[formatClip(clip, location, planner.label), formatLicences(clip)].filter(Boolean).join('\n')}\n`);
  } finally {
    await stop();
  }
}
