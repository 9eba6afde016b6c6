// Make a clip fit a chat platform's upload limit: keep it when it already fits, else re-encode it
// with a two-pass x264 encode at the bitrate the limit allows. When that bitrate would fall below
// a quality floor the answer is "does not fit" and the caller posts a link instead.
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { runFfmpeg } from './ffmpeg.ts';
import { probeMedia } from './probe.ts';

export interface FitOptions {
  maxBytes: number;
  /** Video bitrate below which the picture is too poor to post (kbit/s). */
  minVideoKbps: number;
  /** Folder for the output and pass logs (the caller removes it). */
  workDir: string;
  audioKbps?: number;
  signal?: AbortSignal;
}

export type FitResult =
  | { fits: true; path: string; bytes: number; reencoded: boolean; videoKbps?: number }
  | { fits: false; reason: string; neededKbps: number };

/** Share of the byte budget given to the streams; the rest covers container overhead and x264 overshoot. */
const BUDGET_SHARE = 0.92;

export async function fitToSize(inPath: string, options: FitOptions): Promise<FitResult> {
  const { size } = await stat(inPath);
  if (size <= options.maxBytes) return { fits: true, path: inPath, bytes: size, reencoded: false };

  const info = await probeMedia(inPath);
  const seconds = info.durationSeconds;
  if (!(seconds > 0)) return { fits: false, reason: 'the clip has no duration', neededKbps: 0 };
  const audioKbps = options.audioKbps ?? (info.audio ? 64 : 0);
  let videoKbps = Math.floor((options.maxBytes * 8 * BUDGET_SHARE) / seconds / 1000 - audioKbps);

  // Up to two tries: x264's rate control can overshoot a short clip by a few percent.
  for (let attempt = 0; attempt < 2; attempt++) {
    if (videoKbps < options.minVideoKbps) {
      return {
        fits: false,
        neededKbps: videoKbps,
        reason: `fitting ${seconds.toFixed(1)} s into ${(options.maxBytes / (1024 * 1024)).toFixed(1)} MiB would need ${Math.max(0, videoKbps)} kbit/s, below the ${options.minVideoKbps} kbit/s quality floor`,
      };
    }
    const outPath = path.join(options.workDir, `fit-${attempt}.mp4`);
    const passLog = path.join(options.workDir, `fit-${attempt}-pass`);
    const video = ['-c:v', 'libx264', '-preset', 'veryfast', '-b:v', `${videoKbps}k`, '-maxrate', `${Math.round(videoKbps * 1.5)}k`, '-bufsize', `${videoKbps * 2}k`, '-pix_fmt', 'yuv420p', '-passlogfile', passLog];
    await runFfmpeg({ inputs: [{ path: inPath }], outputOptions: ['-map', '0:v:0', ...video, '-pass', '1', '-an', '-y'], output: null, signal: options.signal });
    const audio = info.audio ? ['-map', '0:a:0', '-c:a', 'aac', '-b:a', `${audioKbps}k`] : [];
    await runFfmpeg({
      inputs: [{ path: inPath }],
      outputOptions: ['-map', '0:v:0', ...audio, ...video, '-pass', '2', '-movflags', '+faststart', '-f', 'mp4', '-y'],
      output: outPath,
      signal: options.signal,
    });
    const bytes = (await stat(outPath)).size;
    if (bytes <= options.maxBytes) return { fits: true, path: outPath, bytes, reencoded: true, videoKbps };
    await rm(outPath, { force: true });
    videoKbps = Math.floor(videoKbps * (options.maxBytes / bytes) * 0.95);
  }
  return { fits: false, neededKbps: videoKbps, reason: 'the re-encoded clip still exceeded the limit' };
}
