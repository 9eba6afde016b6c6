// Scenes (still + narration) -> one 1280x720 30 fps H.264/AAC MP4 with gentle motion, burned-in
// subtitles, music from the library ducked under the narration, and loudness normalised to -16 LUFS.
// The filter graph itself is in graph.ts.
import { randomUUID } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { abortError, MediaError } from './errors.ts';
import { runFfmpeg, type FfmpegInput } from './ffmpeg.ts';
import { buildClipGraph, buildLoudnessGraph, LIMIT_DBFS, OUTPUT, planTimeline, type FrameSize, type GraphScene, type MusicBed, type TimelineScene } from './graph.ts';
import { moodFromWords, MUSIC_MOODS, musicUnavailable, pickTrack, type MusicMood, type MusicTrack } from './music.ts';
import { buildAssDocument, narrationCues, type SpokenSentence } from './subtitles.ts';

export interface SceneInput {
  imagePath: string;
  /** The scene as a video (the presenter, a motion clip): used instead of the still, without the pan. */
  videoPath?: string;
  /** Narration audio (any format ffmpeg reads; WAV from the TTS stage). */
  audioPath: string;
  /** How long the scene lasts; the narration is padded with silence or cut to fit. */
  seconds: number;
  /** The narration's text, burned in as subtitles. */
  narration: string;
  /** How long the narration is actually spoken, when known; subtitles are spread over it. */
  audioSeconds?: number;
  /** When each sentence is heard (from the tts stage), when known; subtitles follow it. */
  sentences?: SpokenSentence[];
}

export interface AssembleInput {
  scenes: SceneInput[];
  outPath: string;
  /** A folder this call may write temporary files into (the .ass file); the caller removes it. */
  workDir: string;
  /** 0..100, monotonic, ends at 100 on success. */
  onProgress?: (percent: number) => void;
  /** Aborting kills ffmpeg; the promise rejects with an AbortError and no output is left behind. */
  signal?: AbortSignal;
  /** Output frame size; default 1280x720. */
  size?: FrameSize;
  /**
   * Music from the library under the narration, ducked while it speaks: a mood, or true for the mood
   * the narration's words suggest. Without the library the clip has none, and the result says why.
   */
  music?: boolean | MusicMood;
}

export interface AssembleResult {
  outPath: string;
  /** The clip's duration: the sum of the scenes' seconds, snapped to whole frames. */
  seconds: number;
  bytes: number;
  /** The music track used, when music was asked for and the library is there. */
  music?: MusicTrack;
  /** When music was asked for but there is none: why (for the result line). */
  musicMissing?: string;
}

/** Loudness target (EBU R128 for online delivery). */
export const TARGET_LUFS = -16;
/** Where the music sits under the narration, before ducking: quiet, but clearly there in the pauses. */
export const MUSIC_BELOW_NARRATION_DB = 16;
/** The library's tracks are mastered loud: -10.8 to -13.1 LUFS measured (ebur128), so one figure serves. */
const MUSIC_TRACK_LUFS = -12;

// Same codec settings for the clip and the baseline, so the bench compares like with like.
const ENCODE_OPTIONS = [
  '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-pix_fmt', 'yuv420p', '-profile:v', 'high',
  '-r', String(OUTPUT.fps),
  '-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-color_range', 'tv',
  '-c:a', 'aac', '-b:a', '128k', '-ar', String(OUTPUT.sampleRate), '-ac', '1',
  '-movflags', '+faststart',
  '-f', 'mp4',
];

const sceneSchema = z.object({
  imagePath: z.string().min(1, 'imagePath is empty'),
  videoPath: z.string().min(1, 'videoPath is empty').optional(),
  audioPath: z.string().min(1, 'audioPath is empty'),
  seconds: z.number().min(0.1, 'a scene lasts at least 0.1 s').max(600, 'a scene lasts at most 600 s'),
  narration: z.string(),
  audioSeconds: z.number().min(0).max(3600).optional(),
  sentences: z.array(z.object({ text: z.string(), start: z.number().min(0), end: z.number().min(0) })).optional(),
});

const inputSchema = z.object({
  music: z.union([z.boolean(), z.enum(MUSIC_MOODS)], { error: `music is true, false or a mood (${MUSIC_MOODS.join(', ')})` }).optional(),
  scenes: z.array(sceneSchema).min(1, 'at least one scene is needed').max(500),
  outPath: z.string().min(1, 'outPath is empty'),
  workDir: z.string().min(1, 'workDir is empty'),
});

interface Prepared {
  scenes: SceneInput[];
  outPath: string;
  workDir: string;
  timeline: TimelineScene[];
  inputs: FfmpegInput[];
  graphScenes: GraphScene[];
  /** Files this call created in workDir, removed when it finishes. */
  scratch: string[];
}

/** Assembles the clip. Rejects with MediaError (`code`), or an AbortError when `signal` aborts. */
export async function assembleClip(input: AssembleInput): Promise<AssembleResult> {
  const prepared = await prepare(input);
  try {
    input.onProgress?.(0);
    const gainDb = await normalisationGain(prepared, input.signal);

    const cues = narrationCues(
      prepared.scenes.map((scene, i) => {
        const slot = prepared.timeline[i]!;
        return { start: slot.start, seconds: slot.seconds, narration: scene.narration, audioSeconds: scene.audioSeconds, sentences: scene.sentences };
      }),
    );
    const subtitlesPath = path.join(prepared.workDir, `subtitles-${randomUUID().slice(0, 8)}.ass`);
    const size = input.size ?? OUTPUT;
    await writeFile(subtitlesPath, buildAssDocument(cues, { width: size.width, height: size.height }), 'utf8');
    prepared.scratch.push(subtitlesPath);

    const track = input.music ? chooseTrack(input.music, prepared.scenes) : undefined;
    let music: MusicBed | undefined;
    if (track && 'file' in track) {
      music = {
        input: prepared.inputs.length,
        seconds: prepared.timeline.reduce((sum, scene) => sum + scene.seconds, 0),
        levelDb: TARGET_LUFS - MUSIC_BELOW_NARRATION_DB - MUSIC_TRACK_LUFS,
      };
      prepared.inputs.push({ path: await ffmpegSafePath(track.file, prepared.workDir, 'music', prepared.scratch), options: ['-stream_loop', '-1'] });
    }
    const graph = buildClipGraph(prepared.graphScenes, { motion: true, subtitlesPath, gainDb, size, music });
    const clip = await encode(prepared, graph, input);
    if (!track) return clip;
    return 'file' in track ? { ...clip, music: track } : { ...clip, musicMissing: track.missing };
  } finally {
    await removeAll(prepared.scratch);
  }
}

/** The track for `music` (a mood, or the narration's), or why there is none. */
function chooseTrack(music: true | MusicMood, scenes: SceneInput[]): MusicTrack | { missing: string } {
  const missing = musicUnavailable();
  if (missing) return { missing };
  const narration = scenes.map((scene) => scene.narration).join(' ');
  const mood = music === true ? moodFromWords(narration) : music;
  return pickTrack(mood, narration);
}

/**
 * The bare encode of the same stills and narration: no motion, no subtitles, no loudness
 * normalisation, same codecs, size and frame rate. bench/ divides assembleClip's time by this one's.
 */
export async function encodeBaseline(input: AssembleInput): Promise<AssembleResult> {
  const prepared = await prepare(input);
  try {
    input.onProgress?.(0);
    const graph = buildClipGraph(prepared.graphScenes, { motion: false });
    return await encode(prepared, graph, input);
  } finally {
    await removeAll(prepared.scratch);
  }
}

async function prepare(input: AssembleInput): Promise<Prepared> {
  if (input.signal?.aborted) throw abortError(input.signal);
  const parsed = inputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    throw new MediaError('input.invalid', `Invalid assembly request: ${where}${issue?.message ?? 'malformed input'}`, {
      cause: parsed.error,
    });
  }
  const { scenes } = parsed.data;
  const outPath = path.resolve(parsed.data.outPath);
  const workDir = path.resolve(parsed.data.workDir);

  // Fail before starting ffmpeg, with a message that names the scene and the file.
  for (const [i, scene] of scenes.entries()) {
    await assertReadableFile(scene.imagePath, `Scene ${i + 1} image`);
    if (scene.videoPath) await assertReadableFile(scene.videoPath, `Scene ${i + 1} video`);
    await assertReadableFile(scene.audioPath, `Scene ${i + 1} narration audio`);
  }
  for (const dir of [workDir, path.dirname(outPath)]) {
    try {
      await mkdir(dir, { recursive: true });
      await access(dir, fsConstants.W_OK);
    } catch (error) {
      throw new MediaError('output.unwritable', `Cannot write into ${dir}: ${(error as Error).message}`, { cause: error });
    }
  }

  const timeline = planTimeline(scenes.map((scene) => scene.seconds));
  const scratch: string[] = [];
  const inputs: FfmpegInput[] = [];
  const graphScenes: GraphScene[] = [];
  try {
    for (const [i, scene] of scenes.entries()) {
      const picture = scene.videoPath ?? scene.imagePath;
      inputs.push({ path: await ffmpegSafePath(picture, workDir, `scene-${i + 1}-${scene.videoPath ? 'video' : 'image'}`, scratch) });
    }
    for (const [i, scene] of scenes.entries()) {
      inputs.push({ path: await ffmpegSafePath(scene.audioPath, workDir, `scene-${i + 1}-audio`, scratch) });
      graphScenes.push({ timeline: timeline[i]!, imageInput: i, audioInput: scenes.length + i, video: scene.videoPath !== undefined });
    }
  } catch (error) {
    await removeAll(scratch);
    throw new MediaError('output.unwritable', `Cannot prepare inputs in ${workDir}: ${(error as Error).message}`, { cause: error });
  }
  return { scenes, outPath, workDir, timeline, inputs, graphScenes, scratch };
}

async function assertReadableFile(file: string, what: string): Promise<void> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new Error('not a regular file');
    if (info.size === 0) throw new Error('the file is empty');
    await access(file, fsConstants.R_OK);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (error as Error).message;
    throw new MediaError('input.missing', `${what} ${reason}: ${file}`, { cause: error });
  }
}

/**
 * ffmpeg's image2 demuxer reads `%d` in a file name as a frame-number pattern, wherever it is in the
 * path. Such a file is linked under a plain name in workDir and passed relative to it (ffmpeg runs with
 * workDir as its cwd), since workDir itself may contain a `%`. Everything else is passed as an absolute
 * path, which ffmpeg never mistakes for a protocol.
 */
async function ffmpegSafePath(file: string, workDir: string, name: string, scratch: string[]): Promise<string> {
  const absolute = path.resolve(file);
  if (!absolute.includes('%')) return absolute;
  const ext = path.extname(absolute).replace(/[^.A-Za-z0-9]/g, '');
  const linkName = `${name}-${randomUUID().slice(0, 8)}${ext}`;
  const link = path.join(workDir, linkName);
  await symlink(absolute, link);
  scratch.push(link);
  return `./${linkName}`;
}

/**
 * Loudness pre-pass over the narration track as it will sound in the clip (audio only, so cheap): the
 * gain that brings it to TARGET_LUFS. When that gain pushes peaks into the limiter, a second pass
 * measures what the limiter took away and the gain is raised to make up for it.
 */
async function normalisationGain(prepared: Prepared, signal: AbortSignal | undefined): Promise<number> {
  const first = await measureNarration(prepared, undefined, signal);
  // Silence (or something ffmpeg could not measure): leave the level alone rather than amplify noise.
  if (first.integrated === null || first.integrated <= -60) return 0;
  const gain = clampGain(TARGET_LUFS - first.integrated);
  // Peaks pushed at most 1 dB into the limiter cost a negligible share of loudness: no second pass.
  if (first.samplePeak === null || first.samplePeak + gain <= LIMIT_DBFS + 1) return gain;
  const second = await measureNarration(prepared, gain, signal);
  if (second.integrated === null) return gain;
  return clampGain(gain + Math.min(6, Math.max(0, TARGET_LUFS - second.integrated)));
}

const clampGain = (db: number) => Math.max(-30, Math.min(30, db));

async function measureNarration(prepared: Prepared, gainDb: number | undefined, signal: AbortSignal | undefined): Promise<LoudnessSummary> {
  const audioInputs = prepared.inputs.slice(prepared.scenes.length);
  const lines = await runFfmpeg({
    inputs: audioInputs.map((input, i) => (i === 0 ? { ...input, options: ['-nostats', ...(input.options ?? [])] } : input)),
    filterGraph: buildLoudnessGraph(
      prepared.graphScenes.map((scene, i) => ({ timeline: scene.timeline, audioInput: i })),
      gainDb,
    ),
    outputOptions: ['-map', '[aout]'],
    output: null,
    signal,
    cwd: prepared.workDir,
  });
  return parseLoudnessSummary(lines);
}

export interface LoudnessSummary {
  /** Integrated loudness in LUFS; null when absent or -inf. */
  integrated: number | null;
  /** Sample peak in dBFS; null when absent or -inf. */
  samplePeak: number | null;
}

/** Reads ebur128's closing summary ("I: -20.5 LUFS" ... "Peak: -1.2 dBFS"). */
export function parseLoudnessSummary(lines: string[]): LoudnessSummary {
  const summary: LoudnessSummary = { integrated: null, samplePeak: null };
  const number = (text: string | undefined) => {
    const n = Number(text);
    return Number.isFinite(n) ? n : null;
  };
  for (const raw of lines) {
    const line = raw.replace(/^\[[^\]]*\]\s*/, '');
    const integrated = /^\s*I:\s+(-?\d+(?:\.\d+)?|-?inf|nan)\s+LUFS/i.exec(line);
    if (integrated) summary.integrated = number(integrated[1]);
    const peak = /^\s*Peak:\s+(-?\d+(?:\.\d+)?|-?inf|nan)\s+dBFS/i.exec(line);
    if (peak) summary.samplePeak = number(peak[1]);
  }
  return summary;
}

async function encode(prepared: Prepared, graph: string, input: AssembleInput): Promise<AssembleResult> {
  const totalFrames = prepared.timeline.reduce((sum, scene) => sum + scene.frames, 0);
  const seconds = totalFrames / OUTPUT.fps;
  // Written beside the target and renamed at the end: the target never holds a partial file.
  const partial = path.join(path.dirname(prepared.outPath), `.${path.basename(prepared.outPath)}.${randomUUID().slice(0, 8)}.partial`);
  try {
    await runFfmpeg({
      inputs: prepared.inputs,
      filterGraph: graph,
      outputOptions: ['-map', '[vout]', '-map', '[aout]', ...ENCODE_OPTIONS],
      output: partial,
      signal: input.signal,
      totalSeconds: seconds,
      onProgress: input.onProgress,
      cwd: prepared.workDir,
    });
    if (input.signal?.aborted) throw abortError(input.signal);
    await rename(partial, prepared.outPath).catch((error: unknown) => {
      throw new MediaError('output.unwritable', `Cannot move the clip to ${prepared.outPath}: ${(error as Error).message}`, {
        cause: error,
      });
    });
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  const { size } = await stat(prepared.outPath);
  input.onProgress?.(100);
  return { outPath: prepared.outPath, seconds, bytes: size };
}

async function removeAll(files: string[]): Promise<void> {
  await Promise.all(files.map((file) => rm(file, { force: true })));
}
