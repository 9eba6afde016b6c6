// Starts and stops the processes a render needs on this machine: a private redis-server (unless
// REDIS_URL points at one) and the Python worker, each supervised (pipeline/supervisor.ts):
// restarted when it dies, in its own process group, dying with this process, stopped in order by
// stop(). Nothing started here outlives the bot.
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createShutdown, SupervisedProcess, type SupervisionEvent } from './supervisor.ts';

export type { SupervisionEvent } from './supervisor.ts';

export const REPO_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const VENV_PYTHON = join(REPO_ROOT, '.venv', 'bin', 'python');

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface RedisHandle {
  url: string;
  /** The running redis-server (after a restart, the new one); absent for an external Redis. */
  readonly process?: ChildProcess;
  stop(): Promise<void>;
}

// PR_SET_PDEATHSIG survives exec: redis-server gets SIGTERM (a clean shutdown that flushes its
// append-only file) the moment the bot dies, even by SIGKILL. The parent check closes the window
// where the bot died before prctl ran.
const DIE_WITH_PARENT = [
  'import ctypes, os, signal, sys',
  'ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)',
  'os.getppid() == int(sys.argv[1]) or sys.exit(0)',
  'os.execvp(sys.argv[2], sys.argv[2:])',
].join('\n');

/** How a program is run so that it dies with this process (Linux; elsewhere it is run as is). */
function dyingWithParent(command: string, args: string[]): { command: string; args: string[] } {
  if (process.platform !== 'linux' || !existsSync(VENV_PYTHON)) return { command, args };
  return { command: VENV_PYTHON, args: ['-c', DIE_WITH_PARENT, String(process.pid), command, ...args] };
}

/** Grace periods of an ordered stop; within the bot's 10 s shutdown budget. */
const WORKER_STOP_GRACE_MS = 2500;
const REDIS_STOP_GRACE_MS = 1500;

function redisProcess(options: { dir?: string; logFile?: string; restart?: boolean; log?: (line: string) => void }, port: number) {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--protected-mode', 'yes'];
  if (options.dir) {
    mkdirSync(options.dir, { recursive: true });
    // Every write on disk before Redis answers: with the default once-a-second fsync, a crash in
    // that second can lose a clip's delivered mark, and the restarted bot posts the clip again.
    args.push('--dir', options.dir, '--appendonly', 'yes', '--appendfsync', 'always');
  } else {
    args.push('--appendonly', 'no');
  }
  const launch = dyingWithParent('redis-server', args);
  return new SupervisedProcess({
    name: 'redis',
    label: 'redis-server',
    ...launch,
    readyText: 'Ready to accept connections',
    readyTimeoutMs: 15_000,
    logFile: options.logFile,
    // Beside the append-only file: a redis left by a crash would otherwise share it with the new one.
    pidFile: options.dir && join(options.dir, 'spinbot-redis.pid'),
    restart: options.restart ?? false,
    log: options.log,
  });
}

/**
 * A private redis-server on a free loopback port. With `dir` it keeps an append-only file there so
 * queued jobs survive a restart; without it (tests) it keeps nothing on disk. `restart`: started
 * again (same port, same file) when it dies.
 */
export async function startRedis(
  options: { dir?: string; logFile?: string; restart?: boolean; log?: (line: string) => void } = {},
): Promise<RedisHandle & { supervised: SupervisedProcess }> {
  const port = await freePort();
  const supervised = redisProcess(options, port);
  await supervised.start();
  return {
    url: `redis://127.0.0.1:${port}`,
    get process() {
      return supervised.process;
    },
    supervised,
    stop: () => supervised.stop(REDIS_STOP_GRACE_MS),
  };
}

export interface WorkerHandle {
  /** The running worker (after a restart, the new one). */
  readonly process: ChildProcess;
  stop(): Promise<void>;
  /** The last lines the worker printed. */
  logTail(): string;
}

export interface WorkerOptions {
  redisUrl: string;
  dataDir: string;
  logFile?: string;
  /** Extra environment, e.g. SPINBOT_TTS_BACKEND or test-only plugins. */
  env?: Record<string, string>;
  /** How long to wait for "spinbot worker ready". */
  readyTimeoutMs?: number;
  /** Started again (with backoff) when it dies; default false. */
  restart?: boolean;
  /** Where a pid file is kept, so that a worker left by a crash is stopped at the next start. */
  pidFile?: string;
  log?: (line: string) => void;
  /** Runs before every start of the worker (the first and each restart). */
  beforeLaunch?: () => Promise<void>;
}

export async function startWorker(options: WorkerOptions): Promise<WorkerHandle & { supervised: SupervisedProcess }> {
  if (!existsSync(VENV_PYTHON)) {
    throw new Error('The Python worker is not installed (.venv is missing). Run `npm start` once to set it up.');
  }
  const supervised = new SupervisedProcess({
    name: 'worker',
    label: 'The Python worker',
    command: VENV_PYTHON,
    args: ['-m', 'spinbot_worker'],
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      PYTHONUNBUFFERED: '1',
      REDIS_URL: options.redisUrl,
      SPINBOT_DATA_DIR: resolve(options.dataDir),
      // The worker asks Linux to kill it when this process dies (spinbot_worker/__main__.py).
      SPINBOT_PARENT_PID: String(process.pid),
      ...options.env,
      // The worker's package first; a PYTHONPATH already set (backend plugins) is kept after it.
      PYTHONPATH: [join(REPO_ROOT, 'gpu-bridge', 'worker'), options.env?.PYTHONPATH ?? process.env.PYTHONPATH]
        .filter(Boolean)
        .join(delimiter),
    },
    readyText: 'spinbot worker ready',
    readyTimeoutMs: options.readyTimeoutMs ?? 60_000,
    logFile: options.logFile,
    pidFile: options.pidFile,
    restart: options.restart ?? false,
    log: options.log,
    beforeLaunch: options.beforeLaunch,
  });
  await supervised.start();
  return {
    get process() {
      return supervised.process;
    },
    supervised,
    stop: () => supervised.stop(WORKER_STOP_GRACE_MS),
    logTail: () => supervised.logTail(),
  };
}

// A dead worker's jobs keep their locks until the locks expire (lockDuration, 30 s by default),
// and only then does a stalled-job check give them to the next worker. Its supervisor knows it is
// dead (it died, or it was from the previous run, whose ready line is kept in the state dir), so
// before starting the next one it releases the locks that worker held (their values start with
// its BullMQ worker id, from its ready line), marks those jobs stalled and lifts the check's
// throttle: the new worker's stalled-job check at its start puts them back in the queue. Only that
// dead worker's locks are touched, so workers elsewhere lose nothing.
const RELEASE_DEAD_WORKER_JOBS = `
local released = {}
for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local lock = ARGV[1] .. id .. ':lock'
  local owner = redis.call('GET', lock)
  if owner and string.sub(owner, 1, #ARGV[2]) == ARGV[2] then
    redis.call('DEL', lock)
    redis.call('SADD', KEYS[2], id)
    table.insert(released, id)
  end
end
if #released > 0 then redis.call('DEL', KEYS[3]) end
return released`;

/** The jobs a dead worker held, released for the next worker; [] when unknown or Redis is down. */
async function releaseJobsOfDeadWorker(redisUrl: string, readyLine: string): Promise<string[]> {
  const ready = readyLine.match(/spinbot worker ready \(queue=([^,\s]+), worker=(\w+)/);
  if (!ready) return [];
  const [, queue, workerId] = ready;
  const prefix = `bull:${queue}:`;
  const client = new Redis(redisUrl, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  client.on('error', () => {}); // Redis down too: the locks expire on their own
  try {
    await client.connect();
    const released = await client.eval(RELEASE_DEAD_WORKER_JOBS, 3, `${prefix}active`, `${prefix}stalled`, `${prefix}stalled-check`, prefix, `${workerId}:`);
    return Array.isArray(released) ? released.map(String) : [];
  } catch {
    return [];
  } finally {
    client.disconnect();
  }
}

export interface Services {
  redisUrl: string;
  /** null when the workers run elsewhere (SPINBOT_LOCAL_WORKER=false, e.g. the compose stack). */
  worker: WorkerHandle | null;
  /**
   * Hear when the worker or the private Redis dies ('died') and is back ('restarted'): e.g. to tell
   * the owners of running jobs "the renderer restarted; resuming". Returns an unsubscribe function.
   */
  onSupervision(listener: (event: SupervisionEvent) => void): () => void;
  /** Worker first, then Redis; each gets a grace period, then SIGKILL. */
  stop(): Promise<void>;
  /** Whether stop() has been called. */
  readonly stopping: boolean;
  /** SIGKILL everything started here, at once (a shutdown past its deadline). */
  killNow(): void;
  /** A shutdown has begun: what dies from now on is not restarted (stop() still stops the rest in order). */
  stopRestarting(): void;
}

/**
 * Redis (private unless REDIS_URL is given) plus one worker, both restarted when they die;
 * stop() ends both, worker first. `localWorker: false` starts no worker: the queue's workers are
 * separate processes or hosts. With a `stateDir`, pid files there let the next start stop what a
 * crash left running; the children also die with this process (parent-death signal).
 */
export async function startServices(options: {
  dataDir: string;
  stateDir?: string;
  redisUrl?: string;
  workerEnv?: Record<string, string>;
  localWorker?: boolean;
  /** Operator log lines (default: stderr). */
  log?: (line: string) => void;
}): Promise<Services> {
  const logDir = options.stateDir ? join(options.stateDir, 'logs') : undefined;
  if (logDir) mkdirSync(logDir, { recursive: true });
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const events = new EventEmitter<{ supervision: [SupervisionEvent] }>();
  const supervised: SupervisedProcess[] = [];
  const killNow = () => supervised.forEach((s) => s.killNow());
  // Whatever way this process exits (a shutdown past its deadline, process.exit anywhere), nothing it started outlives it.
  process.on('exit', killNow);
  // The worker's ready line names its BullMQ id; the last one is kept to hand its jobs back.
  const readyFile = options.stateDir && join(options.stateDir, 'worker.ready');
  let lastReadyLine = readyFile && existsSync(readyFile) ? readFileSync(readyFile, 'utf8') : '';
  let handedBack: string[] = [];
  const rememberReady = (output: string) => {
    lastReadyLine = output.split('\n').find((line) => line.startsWith('spinbot worker ready')) ?? '';
    try {
      if (readyFile) writeFileSync(readyFile, lastReadyLine);
    } catch {
      // a full state disk: only the hand-back after the next start of the bot is lost
    }
  };
  const handBackJobsOfLastWorker = async () => {
    handedBack = lastReadyLine ? await releaseJobsOfDeadWorker(redis.url, lastReadyLine) : [];
    if (handedBack.length) log(`Job${handedBack.length > 1 ? 's' : ''} ${handedBack.join(', ')} of the stopped worker will run again on the new one.`);
  };
  const track = (child: SupervisedProcess) => {
    supervised.push(child);
    child.on('supervision', (event) => {
      if (child.options.name === 'worker' && event.kind === 'restarted') {
        rememberReady(child.readyOutput);
        return events.emit('supervision', { ...event, jobIds: handedBack });
      }
      events.emit('supervision', event);
    });
  };

  let redis: RedisHandle = { url: options.redisUrl ?? '', stop: async () => {} };
  let worker: WorkerHandle | null = null;
  try {
    if (!options.redisUrl) {
      const own = await startRedis({
        dir: options.stateDir && join(options.stateDir, 'redis'),
        logFile: logDir && join(logDir, 'redis.log'),
        restart: true,
        log: options.log,
      });
      track(own.supervised);
      redis = own;
    }
    if (options.localWorker !== false) {
      const own = await startWorker({
        redisUrl: redis.url,
        dataDir: options.dataDir,
        logFile: logDir && join(logDir, 'worker.log'),
        env: options.workerEnv,
        restart: true,
        pidFile: options.stateDir && join(options.stateDir, 'worker.pid'),
        log: options.log,
        beforeLaunch: handBackJobsOfLastWorker,
      });
      rememberReady(own.supervised.readyOutput);
      track(own.supervised);
      worker = own;
    }
  } catch (error) {
    await Promise.all(supervised.map((s) => s.stop(REDIS_STOP_GRACE_MS)));
    process.off('exit', killNow);
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    redisUrl: redis.url,
    worker,
    onSupervision(listener) {
      events.on('supervision', listener);
      return () => events.off('supervision', listener);
    },
    get stopping() {
      return stopping !== undefined;
    },
    stop: () =>
      (stopping ??= (async () => {
        // No restarts from here on, of Redis either while the worker stops.
        supervised.forEach((s) => s.stopRestarting());
        await (worker?.stop() ?? Promise.resolve());
        await redis.stop();
        process.off('exit', killNow);
      })()),
    killNow,
    stopRestarting: () => supervised.forEach((s) => s.stopRestarting()),
  };
}

/**
 * Stop on SIGINT/SIGTERM/SIGHUP or a crash, once, then exit (130/143/129 as shells expect; 1 after
 * a crash). Whatever `stop` leaves running past the deadline is killed by startServices' exit hook.
 */
export function stopOnSignals(stop: () => Promise<void>, options: { onStart?: () => void } = {}): void {
  createShutdown({ steps: () => [{ name: 'the studio', withinMs: 8500, run: stop }], force: () => {}, onStart: options.onStart }).listen();
}
