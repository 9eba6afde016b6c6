// Read-only checks on media files: what ffprobe says, how loud it is, what a frame looks like. Used by
// tests (end-to-end: "frames differ from scene to scene", "audio is not silent") and by upload validation.
// ffprobe/ffmpeg are spawned directly (no shell); FFPROBE_PATH / FFMPEG_PATH override the binaries.
import { execFile } from 'node:child_process';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { MediaError } from './errors.ts';
import { stderrTail } from './ffmpeg.ts';

export interface VideoStreamInfo {
  codec: string;
  width: number;
  height: number;
  /** Average frame rate (e.g. 30, 29.97); 0 when unknown. */
  fps: number;
  pixFmt: string;
}

export interface AudioStreamInfo {
  codec: string;
  sampleRate: number;
  channels: number;
}

export interface MediaInfo {
  durationSeconds: number;
  bytes: number;
  /** The container format as ffprobe names it (e.g. "mov,mp4,m4a,3gp,3g2,mj2"). */
  formatName: string;
  /** The first video stream, if any (attached cover pictures are skipped). */
  video?: VideoStreamInfo;
  /** The first audio stream, if any. */
  audio?: AudioStreamInfo;
}

const ffprobeBin = () => process.env.FFPROBE_PATH || 'ffprobe';
const ffmpegBin = () => process.env.FFMPEG_PATH || 'ffmpeg';

interface RunResult {
  stdout: Buffer;
  stderr: string;
}

function run(bin: string, args: string[], signal?: AbortSignal): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      args,
      { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, signal, windowsHide: true },
      (error, stdout, stderr) => {
        const stderrText = stderr.toString('utf8');
        if (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
            return reject(new MediaError('ffmpeg.unavailable', `${bin} could not be started (not installed?)`, { cause: error }));
          }
          if (error.name === 'AbortError') return reject(error);
          const tail = stderrTail(stderrText.split(/\r?\n|\r/).filter((line) => line.trim().length > 0));
          return reject(
            new MediaError('ffmpeg.failed', `${bin} failed: ${tail.join(' | ') || error.message}`, { cause: error, stderrTail: tail }),
          );
        }
        resolve({ stdout, stderr: stderrText });
      },
    );
  });
}

function parseRate(rate: unknown): number {
  if (typeof rate !== 'string') return 0;
  const [num, den] = rate.split('/').map(Number);
  if (num === undefined || !Number.isFinite(num)) return 0;
  if (den === undefined) return num;
  return den > 0 && Number.isFinite(den) ? num / den : 0;
}

const toNumber = (value: unknown): number => {
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : 0;
};

interface FfprobeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  pix_fmt?: string;
  sample_rate?: string;
  channels?: number;
  duration?: string;
  disposition?: { attached_pic?: number };
}

interface FfprobeOutput {
  streams?: FfprobeStream[];
  format?: { duration?: string; size?: string; format_name?: string };
}

/** Container and first video/audio stream facts, from `ffprobe -show_format -show_streams`. */
export async function probeMedia(file: string): Promise<MediaInfo> {
  const { stdout } = await run(ffprobeBin(), ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', '-i', path.resolve(file)]);
  let parsed: FfprobeOutput;
  try {
    parsed = JSON.parse(stdout.toString('utf8')) as FfprobeOutput;
  } catch (error) {
    throw new MediaError('ffmpeg.failed', `ffprobe printed no JSON for ${file}`, { cause: error });
  }
  const streams = parsed.streams ?? [];
  const videoStream = streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  const audioStream = streams.find((s) => s.codec_type === 'audio');
  const { size } = await stat(file);
  const streamDurations = streams.map((s) => toNumber(s.duration));
  const info: MediaInfo = {
    durationSeconds: toNumber(parsed.format?.duration) || Math.max(0, ...streamDurations),
    bytes: size,
    formatName: parsed.format?.format_name ?? '',
  };
  if (videoStream) {
    const fps = parseRate(videoStream.avg_frame_rate) || parseRate(videoStream.r_frame_rate);
    info.video = {
      codec: videoStream.codec_name ?? '',
      width: toNumber(videoStream.width),
      height: toNumber(videoStream.height),
      fps: Math.round(fps * 1000) / 1000,
      pixFmt: videoStream.pix_fmt ?? '',
    };
  }
  if (audioStream) {
    info.audio = {
      codec: audioStream.codec_name ?? '',
      sampleRate: toNumber(audioStream.sample_rate),
      channels: toNumber(audioStream.channels),
    };
  }
  return info;
}

/** Mean volume of the first audio stream in dBFS (volumedetect); -Infinity for digital silence. */
export async function meanVolumeDb(file: string): Promise<number> {
  const { stderr } = await run(ffmpegBin(), [
    '-hide_banner', '-nostdin', '-nostats', '-i', path.resolve(file), '-map', '0:a:0', '-af', 'volumedetect', '-f', 'null', '-',
  ]);
  const match = /mean_volume:\s*(-?inf|-?\d+(?:\.\d+)?)\s*dB/i.exec(stderr);
  if (!match?.[1]) throw new MediaError('ffmpeg.failed', `volumedetect reported no mean volume for ${file}`);
  return /inf/i.test(match[1]) ? -Infinity : Number(match[1]);
}

/** Integrated loudness of the first audio stream in LUFS (EBU R128, ebur128 filter); -Infinity for silence. */
export async function integratedLoudness(file: string): Promise<number> {
  const { stderr } = await run(ffmpegBin(), [
    '-hide_banner', '-nostdin', '-nostats', '-i', path.resolve(file), '-map', '0:a:0', '-af', 'ebur128=framelog=verbose', '-f', 'null', '-',
  ]);
  // The summary comes last: "Integrated loudness:" then "I: -16.1 LUFS".
  const summary = stderr.slice(stderr.lastIndexOf('Integrated loudness:'));
  const match = /I:\s+(-?inf|-?\d+(?:\.\d+)?)\s+LUFS/i.exec(summary);
  if (!match?.[1]) throw new MediaError('ffmpeg.failed', `ebur128 reported no integrated loudness for ${file}`);
  const value = /inf/i.test(match[1]) ? -Infinity : Number(match[1]);
  // ebur128 reports -70 (its absolute gate) when nothing was loud enough to measure.
  return value <= -70 ? -Infinity : value;
}

/**
 * One frame at `atSeconds`, scaled to width x height and converted to 8-bit gray: a Buffer of
 * width * height bytes, row by row. Small frames make cheap, noise-tolerant comparisons.
 */
export async function grayFrame(file: string, atSeconds: number, width = 64, height = 36): Promise<Buffer> {
  if (!(atSeconds >= 0) || !Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new MediaError('input.invalid', `grayFrame: bad arguments (at ${atSeconds}s, ${width}x${height})`);
  }
  const { stdout } = await run(ffmpegBin(), [
    '-hide_banner', '-nostdin', '-nostats', '-v', 'error',
    '-ss', atSeconds.toFixed(3), '-i', path.resolve(file),
    '-map', '0:v:0', '-frames:v', '1',
    '-vf', `scale=${width}:${height}:flags=area,format=gray`,
    '-f', 'rawvideo', '-',
  ]);
  if (stdout.length !== width * height) {
    throw new MediaError(
      'ffmpeg.failed',
      `grayFrame: expected ${width * height} bytes at ${atSeconds}s of ${file}, got ${stdout.length} (past the end?)`,
    );
  }
  return stdout;
}

/** Mean absolute difference between two gray frames of the same size: 0 (identical) .. 255. */
export function frameDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length || a.length === 0) {
    throw new RangeError(`frameDifference: frames differ in size (${a.length} vs ${b.length} bytes)`);
  }
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] ?? 0) - (b[i] ?? 0));
  return sum / a.length;
}

/**
 * The MP4/MOV top-level box types in file order (e.g. ["ftyp", "moov", "mdat"]). "moov" before "mdat"
 * means the file is fast-start: a player can begin before the whole file has arrived.
 */
export async function mp4TopLevelBoxes(file: string): Promise<string[]> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const boxes: string[] = [];
    const header = Buffer.alloc(16);
    let offset = 0;
    while (offset + 8 <= size && boxes.length < 1000) {
      const { bytesRead } = await handle.read(header, 0, 16, offset);
      if (bytesRead < 8) break;
      let boxSize = header.readUInt32BE(0);
      const type = header.toString('latin1', 4, 8);
      if (boxSize === 1) {
        if (bytesRead < 16) break;
        boxSize = Number(header.readBigUInt64BE(8));
      } else if (boxSize === 0) {
        boxSize = size - offset; // extends to the end of the file
      }
      if (boxSize < 8) break;
      boxes.push(type);
      offset += boxSize;
    }
    return boxes;
  } finally {
    await handle.close();
  }
}
