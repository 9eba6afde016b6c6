// Starts and stops the processes a render needs on this machine: a private redis-server (unless
// REDIS_URL points at one) and the Python worker. Everything started here is stopped by stop(),
// and on SIGINT/SIGTERM, so nothing is left running.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

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

/** Waits until the child prints `text` (stdout or stderr); rejects if it exits first or times out. */
function waitForOutput(child: ChildProcess, text: string, what: string, timeoutMs: number, logTail: () => string): Promise<void> {
  return new Promise((resolveReady, reject) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen = (seen + chunk.toString()).slice(-4096);
      if (seen.includes(text)) done();
    };
    const onExit = (code: number | null) => done(new Error(`${what} exited (code ${code}) before it was ready.\n${logTail()}`));
    // A program that cannot be started at all (not installed) emits 'error' and never 'exit'.
    const onError = (error: Error) => done(new Error(`${what} could not be started: ${error.message}`));
    const timer = setTimeout(() => done(new Error(`${what} was not ready after ${timeoutMs / 1000} s.\n${logTail()}`)), timeoutMs);
    function done(error?: Error) {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
      if (error) reject(error);
      else resolveReady();
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

/** Keeps the last lines a process printed, for error messages, and copies all of it to a log file. */
function captureOutput(child: ChildProcess, logFile?: string) {
  let tail = '';
  const log = logFile ? createWriteStream(logFile, { flags: 'a' }) : null;
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-2000);
    log?.write(chunk);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('exit', () => log?.end());
  return () => tail.trim().split('\n').slice(-8).join('\n');
}

async function stopProcess(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface RedisHandle {
  url: string;
  process?: ChildProcess;
  stop(): Promise<void>;
}

/**
 * A private redis-server on a free loopback port. With `dir` it keeps an append-only file there so
 * queued jobs survive a restart; without it (tests) it keeps nothing on disk.
 */
export async function startRedis(options: { dir?: string; logFile?: string } = {}): Promise<RedisHandle> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--protected-mode', 'yes'];
  if (options.dir) {
    mkdirSync(options.dir, { recursive: true });
    args.push('--dir', options.dir, '--appendonly', 'yes');
  } else {
    args.push('--appendonly', 'no');
  }
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const tail = captureOutput(child, options.logFile);
  await waitForOutput(child, 'Ready to accept connections', 'redis-server', 15_000, tail);
  return { url: `redis://127.0.0.1:${port}`, process: child, stop: () => stopProcess(child) };
}

export interface WorkerHandle {
  process: ChildProcess;
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
}

export async function startWorker(options: WorkerOptions): Promise<WorkerHandle> {
  if (!existsSync(VENV_PYTHON)) {
    throw new Error('The Python worker is not installed (.venv is missing). Run `npm start` once to set it up.');
  }
  const child = spawn(VENV_PYTHON, ['-m', 'spinbot_worker'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PYTHONPATH: join(REPO_ROOT, 'gpu-bridge', 'worker'),
      PYTHONUNBUFFERED: '1',
      REDIS_URL: options.redisUrl,
      SPINBOT_DATA_DIR: resolve(options.dataDir),
      ...options.env,
    },
  });
  const tail = captureOutput(child, options.logFile);
  await waitForOutput(child, 'spinbot worker ready', 'The Python worker', options.readyTimeoutMs ?? 60_000, tail);
  return { process: child, stop: () => stopProcess(child, 10_000), logTail: tail };
}

export interface Services {
  redisUrl: string;
  /** null when the workers run elsewhere (SPINBOT_LOCAL_WORKER=false, e.g. the compose stack). */
  worker: WorkerHandle | null;
  stop(): Promise<void>;
}

/**
 * Redis (private unless REDIS_URL is given) plus one worker; stop() ends both, worker first.
 * `localWorker: false` starts no worker: the queue's workers are separate processes or hosts.
 */
export async function startServices(options: {
  dataDir: string;
  stateDir?: string;
  redisUrl?: string;
  workerEnv?: Record<string, string>;
  localWorker?: boolean;
}): Promise<Services> {
  const logDir = options.stateDir ? join(options.stateDir, 'logs') : undefined;
  if (logDir) mkdirSync(logDir, { recursive: true });
  const redis: RedisHandle = options.redisUrl
    ? { url: options.redisUrl, stop: async () => {} }
    : await startRedis({
        dir: options.stateDir && join(options.stateDir, 'redis'),
        logFile: logDir && join(logDir, 'redis.log'),
      });
  if (options.localWorker === false) {
    return { redisUrl: redis.url, worker: null, stop: () => redis.stop() };
  }
  let worker: WorkerHandle;
  try {
    worker = await startWorker({
      redisUrl: redis.url,
      dataDir: options.dataDir,
      logFile: logDir && join(logDir, 'worker.log'),
      env: options.workerEnv,
    });
  } catch (error) {
    await redis.stop();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    redisUrl: redis.url,
    worker,
    stop: () => (stopping ??= worker.stop().then(() => redis.stop())),
  };
}

/** Stop `services` on SIGINT/SIGTERM, then exit (130/143 as shells expect). */
export function stopOnSignals(stop: () => Promise<void>): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
}
