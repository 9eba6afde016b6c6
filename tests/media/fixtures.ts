// Real inputs for the media tests, made on the spot: stills from ffmpeg's lavfi sources and narration
// spoken by espeak-ng (both are system packages the project already requires).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function makeTempDir(prefix = 'spinbot-media-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A still from a lavfi source, e.g. `testsrc2=s=1280x720` or `color=c=0x2a4d69:s=1024x1024`. */
export async function makeImage(path: string, lavfi: string): Promise<string> {
  await run('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', lavfi, '-frames:v', '1', '-update', '1', path]);
  return path;
}

/** Narration spoken by espeak-ng into a WAV (22.05 kHz mono). */
export async function speak(path: string, text: string): Promise<string> {
  await run('espeak-ng', ['-w', path, text]);
  return path;
}

/** Mean absolute difference between the same rows of two gray frames (width bytes per row). */
export function rowsDifference(a: Uint8Array, b: Uint8Array, width: number, fromRow: number, toRow: number): number {
  let sum = 0;
  let count = 0;
  for (let row = fromRow; row < toRow; row++) {
    for (let x = 0; x < width; x++) {
      const i = row * width + x;
      sum += Math.abs((a[i] ?? 0) - (b[i] ?? 0));
      count++;
    }
  }
  return count === 0 ? 0 : sum / count;
}

/** Share (0..1) of pixels in the given rows whose gray level changed by more than `threshold`. */
export function changedShare(a: Uint8Array, b: Uint8Array, width: number, fromRow: number, toRow: number, threshold = 40): number {
  let changed = 0;
  let count = 0;
  for (let row = fromRow; row < toRow; row++) {
    for (let x = 0; x < width; x++) {
      const i = row * width + x;
      if (Math.abs((a[i] ?? 0) - (b[i] ?? 0)) > threshold) changed++;
      count++;
    }
  }
  return count === 0 ? 0 : changed / count;
}

/**
 * The horizontal shift s (0..maxShift, picture moving left) for which b[x] best matches a[x + s] over
 * the given rows, and the mean absolute residual at that shift (about 0 for an exact whole-pixel pan).
 */
export function bestHorizontalShift(
  a: Uint8Array,
  b: Uint8Array,
  width: number,
  fromRow: number,
  toRow: number,
  maxShift = 3,
): { shift: number; residual: number } {
  let best = { shift: 0, residual: Infinity };
  for (let shift = 0; shift <= maxShift; shift++) {
    let sum = 0;
    let count = 0;
    for (let row = fromRow; row < toRow; row++) {
      for (let x = 8; x < width - 8 - shift; x++) {
        sum += Math.abs((b[row * width + x] ?? 0) - (a[row * width + x + shift] ?? 0));
        count++;
      }
    }
    const residual = sum / count;
    if (residual < best.residual) best = { shift, residual };
  }
  return best;
}
