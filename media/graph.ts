// ffmpeg filter graphs for clip assembly. Pure string builders: no I/O, so they can be unit-tested.
//
// Why the graph looks the way it does (2-core budget: assembly <= 1.5x a bare encode of the same stills):
// - Each still is decoded and scaled ONCE, then repeated by the `loop` filter. `-loop 1` on the input
//   would re-decode the PNG for every frame, and zoompan on an upscaled frame (the classic jitter-free
//   Ken Burns) costs ~3x the encode; both are avoided.
// - Motion is a pan of a 1280x720 crop window over a slightly larger copy of the still, moving by whole
//   pixels at a constant cadence (1 px every k >= 2 frames), so there is no resampling and no sub-pixel
//   wobble. A crop of a yuv420p frame is only a pointer offset, but it can only start on even pixels
//   (chroma is subsampled): the still is therefore prepared twice, as-is and shifted by one pixel, side by
//   side (hstack/vstack), and odd positions crop from the shifted copy. Nothing is converted per frame.
// - x264's cost grows with the number of frames that actually change (a shifted frame, and the frames
//   around it, cost far more than a repeated one; at one step every 3 frames motion alone measured
//   ~+40% over the bare encode). So each scene travels a fixed ~40 px whatever its length: short scenes
//   step every 2 frames (15 px/s, the fastest), a 5 s scene every 4 frames, long ones slower still.
// - Audio: every narration is resampled to 48 kHz mono, padded with silence or cut to its scene's exact
//   sample count (1600 samples per frame at 30 fps), with a 20 ms fade-out so a cut never clicks.

export const OUTPUT = {
  width: 1280,
  height: 720,
  fps: 30,
  sampleRate: 48000,
} as const;

const FADE_OUT_SAMPLES = Math.round(OUTPUT.sampleRate * 0.02);
/** How far a scene's window travels, in pixels (see the encode-cost note above). */
const TARGET_TRAVEL = 40;
/** Longest pan, as a share of the frame's width or height: the still is scaled up by about this much. */
const MAX_TRAVEL_SHARE = 0.075;
/** Minimum frames per one-pixel step: at most 15 px/s. */
const MIN_FRAMES_PER_PIXEL = 2;

export interface TimelineScene {
  index: number;
  startFrame: number;
  frames: number;
  /** Start and length in seconds, after snapping to whole frames. */
  start: number;
  seconds: number;
  /** Audio samples in the scene at OUTPUT.sampleRate (frames * 1600). */
  samples: number;
}

/**
 * Snaps scene lengths to whole frames without drifting: each scene ends on the frame nearest to the
 * running total, so the clip lasts round(sum * fps) frames however the seconds are split.
 */
export function planTimeline(sceneSeconds: number[], fps: number = OUTPUT.fps): TimelineScene[] {
  const scenes: TimelineScene[] = [];
  let elapsed = 0;
  let startFrame = 0;
  sceneSeconds.forEach((seconds, index) => {
    elapsed += seconds;
    const endFrame = Math.max(startFrame + 1, Math.round(elapsed * fps));
    const frames = endFrame - startFrame;
    scenes.push({
      index,
      startFrame,
      frames,
      start: startFrame / fps,
      seconds: frames / fps,
      samples: frames * (OUTPUT.sampleRate / fps),
    });
    startFrame = endFrame;
  });
  return scenes;
}

export type PanDirection = 'right' | 'left' | 'down' | 'up';
const PAN_CYCLE: PanDirection[] = ['right', 'left', 'down', 'up'];

export interface PanPlan {
  direction: PanDirection;
  /** Frames per one-pixel step. */
  framesPerPixel: number;
  /** Pixels the window travels over the scene (0: a still frame). */
  travel: number;
  /** Size the still is scaled to (covering, centre-cropped) before the window moves over it. */
  scaledWidth: number;
  scaledHeight: number;
  /** Fixed (even) offset of the window on the axis that does not move. */
  crossOffset: number;
}

const even = (n: number) => Math.ceil(n / 2) * 2;

/** The pan for the scene at `index` lasting `frames` frames: directions cycle right, left, down, up. */
export function planPan(index: number, frames: number, width: number = OUTPUT.width, height: number = OUTPUT.height): PanPlan {
  const direction = PAN_CYCLE[index % PAN_CYCLE.length] ?? 'right';
  const horizontal = direction === 'right' || direction === 'left';
  const axisLength = horizontal ? width : height;
  const maxTravel = Math.max(0, Math.min(TARGET_TRAVEL, Math.floor(axisLength * MAX_TRAVEL_SHARE)));
  const steps = frames - 1;
  const framesPerPixel = Math.max(MIN_FRAMES_PER_PIXEL, maxTravel > 0 ? Math.ceil(steps / maxTravel) : 1);
  const travel = maxTravel > 0 ? Math.floor(steps / framesPerPixel) : 0;
  if (travel < 1) {
    return { direction, framesPerPixel, travel: 0, scaledWidth: width, scaledHeight: height, crossOffset: 0 };
  }
  // The two phase copies are each (size - 2) long on the moving axis; an odd position p crops the
  // shifted copy at p - 1, so size >= frame + 2 + travel.
  const needed = even(axisLength + 2 + travel);
  const scale = needed / axisLength;
  const scaledWidth = horizontal ? needed : even(width * scale);
  const scaledHeight = horizontal ? even(height * scale) : needed;
  const crossOffset = horizontal ? Math.floor((scaledHeight - height) / 4) * 2 : Math.floor((scaledWidth - width) / 4) * 2;
  return { direction, framesPerPixel, travel, scaledWidth, scaledHeight, crossOffset };
}

/**
 * Escapes a value for use as a filter option inside a filtergraph string (both levels of ffmpeg's
 * quoting: the option parser's `\ ' :` and the graph parser's `\ ' [ ] , ;`).
 */
export function escapeFilterValue(value: string): string {
  const optionLevel = value.replace(/[\\':]/g, (c) => `\\${c}`);
  return optionLevel.replace(/[\\'[\],;]/g, (c) => `\\${c}`);
}

// Cover-scale a still to width x height (centre crop), in RGB so a one-pixel crop keeps full chroma.
function coverScale(width: number, height: number): string {
  return `scale=w=${width}:h=${height}:force_original_aspect_ratio=increase:flags=lanczos,crop=w=${width}:h=${height},setsar=1,format=rgb24`;
}

// RGB -> yuv420p with the BT.709 matrix HD players assume (the output is tagged bt709 to match).
const TO_YUV420P = 'scale=out_color_matrix=bt709:out_range=tv,format=yuv420p';

function repeatStill(frames: number, fps: number): string {
  return `loop=loop=-1:size=1:start=0,settb=1/${fps},setpts=N,trim=end_frame=${frames}`;
}

export interface FrameSize {
  width: number;
  height: number;
}

/** A still at exactly the output size, repeated for the scene (the baseline's video). */
export function stillChain(imageLabel: string, frames: number, outLabel: string, size: FrameSize = OUTPUT): string {
  return `[${imageLabel}]${coverScale(size.width, size.height)},${TO_YUV420P},${repeatStill(frames, OUTPUT.fps)}[${outLabel}]`;
}

/** A still with a whole-pixel pan (see the notes at the top of this file). */
export function panChain(imageLabel: string, frames: number, pan: PanPlan, outLabel: string, tag: string, size: FrameSize = OUTPUT): string {
  if (pan.travel === 0) return stillChain(imageLabel, frames, outLabel, size);
  const { width, height } = size;
  const { fps } = OUTPUT;
  const horizontal = pan.direction === 'right' || pan.direction === 'left';
  const forward = pan.direction === 'right' || pan.direction === 'down';
  const copyWidth = horizontal ? pan.scaledWidth - 2 : pan.scaledWidth;
  const copyHeight = horizontal ? pan.scaledHeight : pan.scaledHeight - 2;
  const copyLength = horizontal ? copyWidth : copyHeight;
  const step = `floor(n/${pan.framesPerPixel})`;
  const position = forward ? step : `(${pan.travel}-${step})`;
  // Even positions crop the first copy at p; odd ones crop the shifted copy (placed after the first) at p-1.
  const moving = `'if(mod(${position},2),${copyLength}+${position}-1,${position})'`;
  const x = horizontal ? moving : String(pan.crossOffset);
  const y = horizontal ? String(pan.crossOffset) : moving;
  const shiftX = horizontal ? 1 : 0;
  const shiftY = horizontal ? 0 : 1;
  const stack = horizontal ? 'hstack' : 'vstack';
  const a = `${tag}a`;
  const b = `${tag}b`;
  return [
    `[${imageLabel}]${coverScale(pan.scaledWidth, pan.scaledHeight)},split=2[${a}][${b}]`,
    `[${a}]crop=w=${copyWidth}:h=${copyHeight}:x=0:y=0[${a}0]`,
    `[${b}]crop=w=${copyWidth}:h=${copyHeight}:x=${shiftX}:y=${shiftY}[${b}1]`,
    `[${a}0][${b}1]${stack}=inputs=2,${TO_YUV420P},${repeatStill(frames, fps)},crop=w=${width}:h=${height}:x=${x}:y=${y}[${outLabel}]`,
  ].join(';');
}

/** One narration, as mono 48 kHz audio lasting exactly `samples` samples. */
export function narrationChain(audioLabel: string, samples: number, outLabel: string): string {
  const fade = Math.min(FADE_OUT_SAMPLES, samples);
  return (
    `[${audioLabel}]aformat=sample_fmts=fltp:sample_rates=${OUTPUT.sampleRate}:channel_layouts=mono,` +
    `asetpts=N/SR/TB,apad=whole_len=${samples},atrim=end_sample=${samples},` +
    `afade=t=out:start_sample=${samples - fade}:nb_samples=${fade}[${outLabel}]`
  );
}

export interface GraphScene {
  timeline: TimelineScene;
  /** ffmpeg input indexes of the scene's image (or video) and narration. */
  imageInput: number;
  audioInput: number;
  /** The image input is a video (the presenter, a motion clip): played as it is, no pan. */
  video?: boolean;
}

/** A scene's video at the output size and rate, exactly `frames` long: a shorter one holds its last frame. */
export function videoChain(videoLabel: string, frames: number, outLabel: string, size: FrameSize = OUTPUT): string {
  return (
    `[${videoLabel}]fps=${OUTPUT.fps},${coverScale(size.width, size.height)},${TO_YUV420P},` +
    `tpad=stop_mode=clone:stop=-1,settb=1/${OUTPUT.fps},setpts=N,trim=end_frame=${frames}[${outLabel}]`
  );
}

export interface AssembleGraphOptions {
  /** Absolute path of the .ass file to burn in; omitted: no subtitles. */
  subtitlesPath?: string;
  /** Gain applied before the limiter (loudness normalisation); omitted: none. */
  gainDb?: number;
  /** Pan the stills; false gives the baseline's static frames. */
  motion: boolean;
  /** Output frame size; default 1280x720 (the plan's aspect picks it). */
  size?: FrameSize;
  /** A music track under the narration, ducked while it speaks. */
  music?: MusicBed;
}

export interface MusicBed {
  /** ffmpeg input index of the track (read with `-stream_loop -1`, so it loops for as long as needed). */
  input: number;
  /** The clip's length: the track is cut there and faded out before it. */
  seconds: number;
  /** Gain that brings the track to its level under the narration. */
  levelDb: number;
}

const MUSIC_FADE_IN_SECONDS = 1.5;
const MUSIC_FADE_OUT_SECONDS = 2.5;
/**
 * Ducking: the (normalised) narration is the key. Speech sits ~16 dB over the -34 dBFS threshold, so at
 * 8:1 the music drops 7-9 dB while it speaks (20-26 dB under the voice, BENCHMARKS.md "Music ducking").
 * ffmpeg's envelope time constant is a quarter of the attack/release figure: a 160 ms release (40 ms)
 * brings the music back within ~0.1 s, so the 0.3-0.4 s pauses between sentences hear it at full level;
 * a slower release (400 ms) held it down through most of each pause.
 */
const DUCKING = `sidechaincompress=threshold=${(10 ** (-34 / 20)).toFixed(4)}:ratio=8:attack=20:release=160:detection=rms`;

/** Peak ceiling after normalisation: -1.5 dBFS, so AAC's overshoot stays below full scale. */
export const LIMIT_DBFS = -1.5;

/** Loudness normalisation: a fixed gain, then a look-ahead limiter that catches the peaks it pushes over. */
export function normaliseChain(gainDb: number): string {
  return `volume=${gainDb.toFixed(2)}dB,${limiter()}`;
}

function limiter(): string {
  return `alimiter=limit=${(10 ** (LIMIT_DBFS / 20)).toFixed(4)}:level=false`;
}

/** The track as mono 48 kHz, cut to the clip, at its level, faded in and out. */
export function musicChain(music: MusicBed, outLabel: string): string {
  const samples = Math.round(music.seconds * OUTPUT.sampleRate);
  const fadeIn = Math.min(MUSIC_FADE_IN_SECONDS, music.seconds / 4);
  const fadeOut = Math.min(MUSIC_FADE_OUT_SECONDS, music.seconds / 3);
  return (
    `[${music.input}:a]aformat=sample_fmts=fltp:sample_rates=${OUTPUT.sampleRate}:channel_layouts=mono,` +
    `asetpts=N/SR/TB,atrim=end_sample=${samples},volume=${music.levelDb.toFixed(2)}dB,` +
    `afade=t=in:d=${fadeIn.toFixed(3)},afade=t=out:st=${(music.seconds - fadeOut).toFixed(3)}:d=${fadeOut.toFixed(3)}[${outLabel}]`
  );
}

/** The whole clip's graph; its outputs are labelled [vout] and [aout]. */
export function buildClipGraph(scenes: GraphScene[], options: AssembleGraphOptions): string {
  const parts: string[] = [];
  const size = options.size ?? OUTPUT;
  let concatInputs = '';
  for (const scene of scenes) {
    const i = scene.timeline.index;
    const image = `${scene.imageInput}:v`;
    parts.push(
      scene.video
        ? videoChain(image, scene.timeline.frames, `v${i}`, size)
        : options.motion
        ? panChain(image, scene.timeline.frames, planPan(i, scene.timeline.frames, size.width, size.height), `v${i}`, `s${i}`, size)
        : stillChain(image, scene.timeline.frames, `v${i}`, size),
    );
    parts.push(narrationChain(`${scene.audioInput}:a`, scene.timeline.samples, `a${i}`));
    concatInputs += `[v${i}][a${i}]`;
  }
  parts.push(`${concatInputs}concat=n=${scenes.length}:v=1:a=1[vcat][acat]`);
  parts.push(options.subtitlesPath !== undefined ? `[vcat]ass=filename=${escapeFilterValue(options.subtitlesPath)}[vout]` : '[vcat]null[vout]');
  if (options.music !== undefined) {
    // The narration is normalised first, so the music's level and the ducking threshold are absolute.
    parts.push(
      `[acat]volume=${(options.gainDb ?? 0).toFixed(2)}dB,asplit=2[voice][key]`,
      musicChain(options.music, 'bed'),
      `[bed][key]${DUCKING}[ducked]`,
      `[voice][ducked]amix=inputs=2:duration=first:dropout_transition=0:normalize=0,${limiter()}[aout]`,
    );
  } else {
    parts.push(options.gainDb !== undefined ? `[acat]${normaliseChain(options.gainDb)}[aout]` : '[acat]anull[aout]');
  }
  return parts.join(';');
}

/**
 * Narrations only, concatenated as in the clip and measured with ebur128 (the loudness pre-pass):
 * with `gainDb`, measured after normalisation, to see what the limiter took away.
 */
export function buildLoudnessGraph(scenes: Array<{ timeline: TimelineScene; audioInput: number }>, gainDb?: number): string {
  const parts = scenes.map((scene) => narrationChain(`${scene.audioInput}:a`, scene.timeline.samples, `a${scene.timeline.index}`));
  const labels = scenes.map((scene) => `[a${scene.timeline.index}]`).join('');
  const normalise = gainDb === undefined ? '' : `${normaliseChain(gainDb)},`;
  parts.push(`${labels}concat=n=${scenes.length}:v=0:a=1,${normalise}ebur128=framelog=verbose:peak=sample[aout]`);
  return parts.join(';');
}
