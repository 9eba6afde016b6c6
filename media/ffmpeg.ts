// The one place that drives ffmpeg through fluent-ffmpeg (archived upstream in 2025; kept behind this
// small runner so it can be swapped for a plain spawn without touching the callers).
import ffmpeg from 'fluent-ffmpeg';
import { abortError, MediaError } from './errors.ts';

export interface FfmpegInput {
  path: string;
  /** Options placed before this input's `-i`. */
  options?: string[];
}

export interface RunFfmpegOptions {
  inputs: FfmpegInput[];
  filterGraph?: string;
  outputOptions: string[];
  /** A file path, or null to decode and discard (`-f null`), e.g. for measurements. */
  output: string | null;
  signal?: AbortSignal;
  /** Expected output duration; with onProgress, turns ffmpeg's `time=` into a percentage. */
  totalSeconds?: number;
  onProgress?: (percent: number) => void;
  /** Working directory for ffmpeg (relative input paths resolve against it). */
  cwd?: string;
}

const STDERR_TAIL_LINES = 6;
const MESSAGE_MAX_CHARS = 900;

/** Runs ffmpeg to completion. Resolves with its stderr lines; rejects with MediaError or an AbortError. */
export function runFfmpeg(options: RunFfmpegOptions): Promise<string[]> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(abortError(signal));

  return new Promise<string[]>((resolve, reject) => {
    // stdoutLines bounds the stderr ring fluent keeps; enough for the loudness summary and an error tail.
    const command = ffmpeg({ stdoutLines: 200, ...(options.cwd !== undefined ? { cwd: options.cwd } : {}) });
    options.inputs.forEach((input, index) => {
      command.input(input.path);
      // Global flags ride on the first input (fluent has no public global-option API). Spread, so fluent does not
      // split values that contain a space (it only splits an array argument or a lone string).
      const inputOptions = index === 0 ? ['-hide_banner', '-nostdin', ...(input.options ?? [])] : input.options ?? [];
      if (inputOptions.length > 0) command.addInputOptions(...inputOptions);
    });
    if (options.filterGraph !== undefined) command.complexFilter(options.filterGraph);
    if (options.output === null) {
      command.output('-').addOutputOptions(...options.outputOptions, '-f', 'null');
    } else {
      command.output(options.output).addOutputOptions(...options.outputOptions);
    }

    let settled = false;
    let started = false;
    const kill = () => {
      if (started) command.kill('SIGKILL');
    };
    const onAbort = () => kill();
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (error: Error | null, lines: string[]) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(lines);
    };

    command.on('start', () => {
      started = true;
      // An abort that landed while fluent was still preparing the command.
      if (signal?.aborted) kill();
    });

    if (options.onProgress && options.totalSeconds && options.totalSeconds > 0) {
      const total = options.totalSeconds;
      const report = options.onProgress;
      let last = -1;
      command.on('progress', (progress) => {
        const seconds = parseTimemark(progress.timemark);
        if (seconds === null) return;
        // Never report 100 before ffmpeg has finished (the muxer still has to write the moov atom).
        const percent = Math.min(99, Math.max(0, (seconds / total) * 100));
        const rounded = Math.floor(percent * 10) / 10;
        if (rounded > last) {
          last = rounded;
          report(rounded);
        }
      });
    }

    command.on('error', (error: Error, _stdout: string | null, stderr: string | null) => {
      if (signal?.aborted) return finish(abortError(signal), []);
      const lines = splitLines(stderr);
      if (/Cannot find ffmpeg|spawn .*ENOENT/i.test(error.message)) {
        return finish(
          new MediaError('ffmpeg.unavailable', `ffmpeg could not be started: ${error.message}`, { cause: error }),
          lines,
        );
      }
      const tail = stderrTail(lines);
      const exit = /exited with code (\d+)/.exec(error.message)?.[1];
      const what = exit !== undefined ? `ffmpeg exited with code ${exit}` : error.message.split(':')[0];
      const message = truncate(`${what}: ${tail.length > 0 ? tail.join(' | ') : error.message}`);
      finish(new MediaError('ffmpeg.failed', message, { cause: error, stderrTail: tail }), lines);
    });
    command.on('end', (_stdout: string | null, stderr: string | null) => {
      if (signal?.aborted) return finish(abortError(signal), []);
      finish(null, splitLines(stderr));
    });

    command.run();
  });
}

/** "00:01:02.50" -> 62.5; null for "N/A" or anything unparsable. */
export function parseTimemark(timemark: string | undefined): number | null {
  if (!timemark) return null;
  const match = /^(-?)(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(timemark.trim());
  if (!match) return null;
  const seconds = Number(match[2]) * 3600 + Number(match[3]) * 60 + Number(match[4]);
  if (!Number.isFinite(seconds)) return null;
  return match[1] === '-' ? -seconds : seconds;
}

function splitLines(text: string | null | undefined): string[] {
  return (text ?? '').split(/\r?\n|\r/).filter((line) => line.trim().length > 0);
}

/** The last meaningful stderr lines: progress/statistics chatter is dropped. */
export function stderrTail(lines: string[], count = STDERR_TAIL_LINES): string[] {
  const meaningful = lines
    .map((line) => line.trim())
    .filter((line) => !/^(frame=|size=|video:|\[out#|Press \[q\])/.test(line));
  return meaningful.slice(-count);
}

function truncate(text: string): string {
  return text.length <= MESSAGE_MAX_CHARS ? text : `${text.slice(0, MESSAGE_MAX_CHARS - 1)}…`;
}
