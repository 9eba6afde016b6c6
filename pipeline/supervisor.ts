// One child process the bot depends on (redis-server, the Python worker), kept running: started in
// its own process group (a SIGTERM sent to the bot's group must not reach it before the bot has
// closed what uses it), restarted with backoff when it dies, stopped in order by the bot, and
// recorded in a pid file so that one left by a crash is found and stopped at the next start.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** What the job layer hears: 'died' at once, 'restarted' when the new process is ready. */
export interface SupervisionEvent {
  process: string;
  kind: 'died' | 'restarted' | 'restart-failed';
  /** e.g. "killed by SIGKILL", "exit code 1" */
  reason: string;
  /** Restarts so far (1 for the first). */
  restarts: number;
  pid?: number;
  /** With 'died' and 'restart-failed': when the next try is. */
  retryInMs?: number;
  /** With the worker's 'restarted': the jobs the dead one was running, handed back to the queue to run again. */
  jobIds?: string[];
}

export interface SupervisedOptions {
  /** Short name for logs and events: "worker", "redis". */
  name: string;
  /** For messages: "The Python worker", "redis-server". */
  label: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Printed (stdout or stderr) when the process is ready. */
  readyText: string;
  readyTimeoutMs: number;
  logFile?: string;
  /** Where its pid is kept while it runs (a state dir); a live one found there at start is stopped first. */
  pidFile?: string;
  /** Restart when it dies on its own (default true). */
  restart?: boolean;
  /** Operator log lines (default: stderr). */
  log?: (line: string) => void;
  /** Runs before every start (the first and each restart), after any stale process is stopped. */
  beforeLaunch?: () => Promise<void>;
}

/** Restart delays: quick at first, at most 30 s apart; back to quick after a minute of running. */
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 16_000, 30_000];
const STABLE_AFTER_MS = 60_000;

export class SupervisedProcess extends EventEmitter<{ supervision: [SupervisionEvent] }> {
  private child: ChildProcess | null = null;
  private stopping = false;
  private restartsOff = false;
  private restarts = 0;
  private failuresInARow = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private tail = '';
  private seenAtReady = '';
  private readonly log: (line: string) => void;

  constructor(readonly options: SupervisedOptions) {
    super();
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  /** The running process (the last one started). */
  get process(): ChildProcess {
    if (!this.child) throw new Error(`${this.options.label} has not been started`);
    return this.child;
  }

  /** What the current (or, until it is restarted, the last) process printed up to being ready. */
  get readyOutput(): string {
    return this.seenAtReady;
  }

  /** The last lines it printed. */
  logTail(): string {
    return this.tail.trim().split('\n').slice(-8).join('\n');
  }

  /** First start: stops a stale one from the pid file, then rejects if the new one is not ready in time. */
  async start(): Promise<void> {
    if (this.options.pidFile) await stopStaleProcess(this.options.pidFile, this.options.label, this.log);
    await this.launch();
  }

  private async launch(): Promise<void> {
    await this.options.beforeLaunch?.();
    // stop() was called meanwhile: start nothing it would not see.
    if (this.stopping) throw new Error(`${this.options.label} is being stopped`);
    const child = spawn(this.options.command, this.options.args, {
      cwd: this.options.cwd,
      env: this.options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: a signal to the bot's group (systemd, kill -- -PGID, Ctrl-C) reaches
      // only the bot, which then stops its children in order.
      detached: true,
    });
    this.child = child;
    this.capture(child);
    if (child.pid && this.options.pidFile) writePidFile(this.options.pidFile, child.pid);
    try {
      this.seenAtReady = await waitForOutput(child, this.options.readyText, this.options.label, this.options.readyTimeoutMs, () => this.logTail());
    } catch (error) {
      killGroup(child, 'SIGKILL');
      throw error;
    }
    const startedAt = Date.now();
    child.once('exit', (code, signal) => {
      if (this.options.pidFile && child.pid) removePidFile(this.options.pidFile, child.pid);
      if (this.stopping || this.child !== child) return;
      // What it had started (the worker's ffmpeg) goes with it.
      killGroup(child, 'SIGKILL');
      if (Date.now() - startedAt > STABLE_AFTER_MS) this.failuresInARow = 0;
      this.onUnexpectedExit(signal ? `killed by ${signal}` : `exit code ${code}`);
    });
  }

  private onUnexpectedExit(reason: string): void {
    if (this.options.restart === false || this.restartsOff) return;
    this.restarts += 1;
    const delay = BACKOFF_MS[Math.min(this.failuresInARow, BACKOFF_MS.length - 1)]!;
    this.failuresInARow += 1;
    this.log(`${this.options.label} stopped unexpectedly (${reason}); restarting it in ${delay / 1000} s (restart ${this.restarts}).`);
    this.emit('supervision', { process: this.options.name, kind: 'died', reason, restarts: this.restarts, retryInMs: delay });
    this.retryTimer = setTimeout(() => void this.relaunch(reason), delay);
  }

  private async relaunch(reason: string): Promise<void> {
    this.retryTimer = null;
    if (this.stopping || this.restartsOff) return;
    try {
      await this.launch();
    } catch (error) {
      if (this.stopping) return;
      const delay = BACKOFF_MS[Math.min(this.failuresInARow, BACKOFF_MS.length - 1)]!;
      this.failuresInARow += 1;
      const why = (error as Error).message.split('\n')[0] ?? 'unknown';
      this.log(`${this.options.label} could not be restarted (${why}); trying again in ${delay / 1000} s.`);
      this.emit('supervision', { process: this.options.name, kind: 'restart-failed', reason: why, restarts: this.restarts, retryInMs: delay });
      this.retryTimer = setTimeout(() => void this.relaunch(reason), delay);
      return;
    }
    if (this.stopping) return;
    this.log(`${this.options.label} restarted (pid ${this.child?.pid}) after it stopped unexpectedly (${reason}).`);
    this.emit('supervision', { process: this.options.name, kind: 'restarted', reason, restarts: this.restarts, pid: this.child?.pid });
  }

  /**
   * No more restarts; SIGTERM, then SIGKILL to its whole group (the worker's ffmpeg included)
   * after `graceMs`. Resolves when it has exited.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const child = this.child;
    if (!child || !isRunning(child)) return;
    const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      this.log(`${this.options.label} did not stop within ${graceMs / 1000} s; killing it.`);
      killGroup(child, 'SIGKILL');
    }, graceMs);
    await exited;
    clearTimeout(timer);
    // Anything it started and left behind in its group goes with it.
    killGroup(child, 'SIGKILL');
  }

  /**
   * No more restarts (a shutdown has begun), while it keeps running until stop(): under systemd's
   * default KillMode=control-group it gets the same SIGTERM as the bot, and must then stay down.
   */
  stopRestarting(): void {
    this.restartsOff = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  /** At once and synchronously (for process 'exit' hooks): SIGKILL to its group. */
  killNow(): void {
    this.stopping = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.child) {
      killGroup(this.child, 'SIGKILL');
      if (this.options.pidFile && this.child.pid) removePidFile(this.options.pidFile, this.child.pid);
    }
  }

  private capture(child: ChildProcess): void {
    const log = this.options.logFile ? createWriteStream(this.options.logFile, { flags: 'a' }) : null;
    // A log that cannot be written (e.g. a full disk) must not take the bot down.
    log?.on('error', () => {});
    const keep = (chunk: Buffer) => {
      this.tail = (this.tail + chunk.toString()).slice(-2000);
      log?.write(chunk);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('exit', () => log?.end());
    child.on('error', () => {}); // reported by waitForOutput at start; later ones are exits
  }
}

export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** A detached child leads its own process group: signal the group, or just it if that fails. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (!child.pid) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/**
 * Waits until the child prints `text` (stdout or stderr) and resolves with what it printed so far;
 * rejects if it exits first or times out.
 */
export function waitForOutput(child: ChildProcess, text: string, what: string, timeoutMs: number, logTail: () => string): Promise<string> {
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
      else resolveReady(seen);
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

// Pid files hold the pid and the process's start time (field 22 of /proc/PID/stat), so that a
// pid reused by an unrelated process since the crash is never signalled.

function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

export function writePidFile(file: string, pid: number): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ pid, start: startTimeOf(pid) }));
  } catch {
    // best effort: without it only the stale-process check at the next start is lost
  }
}

function removePidFile(file: string, pid: number): void {
  try {
    if (JSON.parse(readFileSync(file, 'utf8')).pid === pid) rmSync(file, { force: true });
  } catch {
    // gone already
  }
}

/** The process a pid file names, when it is still the same process; null otherwise. */
export function livePidFromFile(file: string): number | null {
  let recorded: { pid?: unknown; start?: unknown };
  try {
    recorded = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
  if (typeof recorded.pid !== 'number' || typeof recorded.start !== 'string') return null;
  return startTimeOf(recorded.pid) === recorded.start ? recorded.pid : null;
}

/** Stops a process left running by an earlier bot that crashed: SIGTERM, SIGKILL after 5 s. */
export async function stopStaleProcess(file: string, label: string, log: (line: string) => void): Promise<void> {
  const pid = livePidFromFile(file);
  if (pid === null) {
    rmSync(file, { force: true });
    return;
  }
  log(`${label} (pid ${pid}) is still running from an earlier start that did not stop cleanly; stopping it.`);
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        process.kill(pid, signal);
      } catch {
        // gone
      }
    }
  };
  signalGroup('SIGTERM');
  for (let waited = 0; startTimeOf(pid) !== null && !isZombie(pid); waited += 100) {
    if (waited === 5000) signalGroup('SIGKILL');
    if (waited > 10_000) throw new Error(`${label} (pid ${pid}) from an earlier start cannot be stopped.`);
    await new Promise((r) => setTimeout(r, 100));
  }
  rmSync(file, { force: true });
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

export interface ShutdownStep {
  /** For the log: "front-ends", "queue connections", "worker and redis". */
  name: string;
  /** Past this the step is abandoned (logged) and the next one runs. */
  withinMs: number;
  run: () => Promise<unknown>;
  /** The step is over once this turns true, even before run() settles (it went on to the next step's work). */
  handedOn?: () => boolean;
}

/** Exit codes as shells report a death by these signals. */
const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

/**
 * Every way this process stops (SIGINT, SIGTERM, SIGHUP, an uncaught exception or rejection, or
 * a call to stop()) runs the same steps once, in order, each within its time, and exits; past
 * `deadlineMs` `force()` runs (SIGKILL to the children) and the process exits anyway. A second
 * signal (e.g. tsx relaying the one the whole group got) does not start a second shutdown.
 */
export function createShutdown(options: {
  steps: () => ShutdownStep[];
  force: () => void;
  /** First thing on stopping (e.g. no more restarts of children). */
  onStart?: () => void;
  deadlineMs?: number;
  log?: (line: string) => void;
}) {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const deadlineMs = options.deadlineMs ?? 9000;
  let running: Promise<never> | undefined;

  const stop = (reason: string, exitCode: number): Promise<never> =>
    (running ??= (async () => {
      log(`Stopping (${reason}).`);
      options.onStart?.();
      const deadline = setTimeout(() => {
        log(`Shutdown took longer than ${deadlineMs / 1000} s; killing what is left.`);
        options.force();
        process.exit(exitCode);
      }, deadlineMs);
      for (const step of options.steps()) {
        let timer: NodeJS.Timeout | undefined;
        let poll: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), step.withinMs)));
        const handedOn = new Promise<'done'>((r) => (poll = setInterval(() => step.handedOn?.() && r('done'), 50)));
        const outcome = await Promise.race([step.run().then(() => 'done' as const, (error: unknown) => error as Error), late, handedOn]);
        clearTimeout(timer);
        clearInterval(poll);
        if (outcome === 'late') log(`Stopping: ${step.name} did not close within ${step.withinMs / 1000} s; going on.`);
        else if (outcome instanceof Error) log(`Stopping: ${step.name}: ${outcome.message}`);
      }
      clearTimeout(deadline);
      process.exit(exitCode);
    })());

  const crashed = (kind: string) => (error: unknown) => {
    log(`Crashed (${kind}): ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    void stop('crash', 1);
  };
  return {
    stop,
    /** Installs the signal and crash handlers. */
    listen(): void {
      for (const [signal, code] of Object.entries(SIGNAL_EXIT_CODES)) process.on(signal, () => void stop(signal, code));
      process.on('uncaughtException', crashed('uncaught exception'));
      process.on('unhandledRejection', crashed('unhandled rejection'));
    },
  };
}
