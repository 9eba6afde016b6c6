// Fault tests run the product as an operator does: `npm start` (set-up skipped) in its own process
// group, with the Telegram front-end against the emulator and the Ollama emulator as the planner.
// What runs is read from /proc: every process whose command line or environment names the test's
// folder (the bot, the tsx wrapper, the worker, redis-server) belongs to that bot.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../pipeline/services.ts';
import { startOllamaEmulator, type OllamaEmulator } from '../emulators/ollama.ts';
import { startTelegramEmulator, type BotMessage, type TelegramEmulator } from '../emulators/telegram/server.ts';
import { tempDir } from '../e2e/helpers.ts';

type After = { after(fn: () => unknown): void };

const WORKER_DIR = join(REPO_ROOT, 'gpu-bridge', 'worker');
/** Short locks, so that a job held by a dead worker is taken back in seconds rather than 30-60 s. */
export const FAST_STALL = { SPINBOT_LOCK_DURATION_MS: '2000', SPINBOT_STALLED_INTERVAL_MS: '1000' };
/** The test-only slow narration (real espeak-ng, `seconds` later per call): a stage with a middle to kill in. */
export const slowNarration = (seconds: number) => ({
  PYTHONPATH: join(WORKER_DIR, 'tests', 'fixtures'),
  SPINBOT_BACKEND_PLUGINS: 'misbehaving_backends',
  SPINBOT_TTS_BACKEND: 'fake-slow',
  SPINBOT_FAKE_SLOW_SECONDS: String(seconds),
});

export interface LiveProcess {
  pid: number;
  ppid: number;
  args: string;
}

function statFields(pid: number | string): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Live processes (zombies excluded: they have ended) whose arguments or environment mention `needle`. */
export function processesMentioning(needle: string): LiveProcess[] {
  const found: LiveProcess[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    if (Number(pid) === process.pid) continue;
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (!args.includes(needle) && !env.includes(needle)) continue;
      const stat = statFields(pid);
      if (!stat || stat[0] === 'Z') continue;
      found.push({ pid: Number(pid), ppid: Number(stat[1]), args: args.replaceAll('\0', ' ').trim() });
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

function isLive(pid: number): boolean {
  const stat = statFields(pid);
  return stat !== null && stat[0] !== 'Z';
}

/**
 * Waits until none of `pids` runs and nothing mentions `needle`; returns how long that took, or
 * fails naming what is left. (redis-server overwrites its environment with its title, so it is
 * found by pid, not by `needle`.)
 */
export async function waitUntilAllGone(needle: string, pids: number[], withinMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const left = [
      ...processesMentioning(needle),
      ...pids.filter(isLive).map((pid) => ({ pid, ppid: parentOf(pid), args: readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ') })),
    ];
    if (!left.length) return Date.now() - started;
    if (Date.now() - started > withinMs) {
      assert.fail(`still running ${withinMs / 1000} s later: ${left.map((p) => `${p.pid} (parent ${p.ppid}) ${p.args}`).join('; ')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function pidFromFile(file: string): number {
  return JSON.parse(readFileSync(file, 'utf8')).pid;
}

export function parentOf(pid: number): number {
  const stat = statFields(pid);
  assert.ok(stat, `process ${pid} is not running`);
  return Number(stat[1]);
}

export async function waitFor<T>(what: string, probe: () => T | undefined | null | false, timeoutMs: number, detail = () => ''): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() - started > timeoutMs) assert.fail(`timed out after ${timeoutMs / 1000} s waiting for ${what}\n${detail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface RunningBot {
  /** The npm process, leader of the bot's process group. */
  npm: ChildProcess;
  dir: string;
  dataDir: string;
  stateDir: string;
  tg: TelegramEmulator;
  ollama: OllamaEmulator;
  /** Everything the bot printed (its log). */
  output(): string;
  workerLog(): string;
  /** The worker's pid (from its pid file in the state dir); the bot process is its parent. */
  workerPid(): number;
  redisPid(): number;
  redisLog(): string;
  /** The node process running bot/main.ts. */
  botPid(): number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** `/generate <prompt>` from the default user on Telegram. */
  generate(prompt: string): void;
  videos(): BotMessage[];
  texts(): string[];
}

/** A fresh folder with the data and state dirs, and the emulators, stopped after the test. */
export async function botFixture(t: After, options: { dataDir?: string } = {}) {
  const dir = await tempDir(t, 'spinbot-faults-');
  const tg = await startTelegramEmulator();
  const ollama = await startOllamaEmulator({ models: ['qwen2.5:7b-instruct'] });
  t.after(async () => {
    await tg.stop();
    await ollama.close();
  });
  return { dir, tg, ollama, dataDir: options.dataDir ?? join(dir, 'data'), stateDir: join(dir, 'state') };
}

/**
 * `npm start` in its own process group, auto-approving plans; resolves once Telegram is running.
 * After the test the whole group and anything left mentioning the folder are SIGKILLed.
 */
export async function startBot(
  t: After,
  fixture: Awaited<ReturnType<typeof botFixture>>,
  env: Record<string, string> = {},
  options: { frontEnd?: 'telegram' | 'console' } = {},
): Promise<RunningBot> {
  const { dir, tg, ollama, dataDir, stateDir } = fixture;
  const onConsole = options.frontEnd === 'console';
  const npm = spawn('npm', ['start', '--silent'], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: [onConsole ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      SPINBOT_SKIP_SETUP: '1',
      TELEGRAM_BOT_TOKEN: onConsole ? '' : tg.token,
      TELEGRAM_API_ROOT: tg.apiRoot,
      DISCORD_TOKEN: '',
      REDIS_URL: '',
      SPINBOT_DATA_DIR: dataDir,
      SPINBOT_STATE_DIR: stateDir,
      // The marker that /proc is searched for, also when the data dir is elsewhere (a tmpfs).
      SPINBOT_FAULT_TEST_DIR: dir,
      OLLAMA_BASE_URL: ollama.url,
      SPINBOT_AUTO_APPROVE: 'true',
      SPINBOT_PROGRESS_EDIT_MS: '200',
      ...env,
    },
  });
  let output = '';
  npm.stdout!.on('data', (c: Buffer) => (output += c));
  npm.stderr!.on('data', (c: Buffer) => (output += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    npm.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const seenRedis = new Set<number>();
  t.after(() => {
    try {
      process.kill(-npm.pid!, 'SIGKILL');
    } catch {
      // gone
    }
    for (const leftover of [...processesMentioning(dir), ...[...seenRedis].filter(isLive).map((pid) => ({ pid }))]) {
      try {
        process.kill(leftover.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
  const readLog = (name: string) => {
    try {
      return readFileSync(join(stateDir, 'logs', name), 'utf8');
    } catch {
      return '';
    }
  };
  const workerPid = () => pidFromFile(join(stateDir, 'worker.pid'));
  const user = tg.defaultUser;
  const bot: RunningBot = {
    npm,
    dir,
    dataDir,
    stateDir,
    tg,
    ollama,
    output: () => output,
    workerLog: () => readLog('worker.log'),
    redisLog: () => readLog('redis.log'),
    workerPid,
    redisPid: () => {
      const pid = pidFromFile(join(stateDir, 'redis', 'spinbot-redis.pid'));
      seenRedis.add(pid);
      return pid;
    },
    botPid: () => parentOf(workerPid()),
    exited,
    generate: (prompt) => tg.sendCommand(user.id, user, 'generate', prompt),
    videos: () => tg.botMessages(user.id).filter((m) => m.method === 'sendVideo'),
    texts: () => tg.botMessages(user.id).map((m) => m.text ?? m.caption ?? ''),
  };
  let ended = false;
  void exited.then(() => (ended = true));
  await waitFor('the bot to start', () => {
    if (ended) assert.fail(`npm start exited before the bot was running:\n${output}`);
    return onConsole ? /Type \/help for help/.test(output) : /Running: telegram/.test(output);
  }, 90_000, () => output);
  return bot;
}
