// A user's voice sample -> the reference format voice cloning expects: 24 kHz mono 16-bit WAV,
// with leading and trailing silence trimmed (pauses inside the speech are kept).
import { runFfmpeg } from './ffmpeg.ts';
import { probeMedia } from './probe.ts';

export const VOICE_SAMPLE_RATE = 24_000;
/** Quieter than this counts as silence at the ends of a sample. */
const SILENCE_THRESHOLD = '-45dB';

const trimOneEnd = `silenceremove=start_periods=1:start_duration=0.05:start_threshold=${SILENCE_THRESHOLD}:start_silence=0.1`;

export interface VoiceSample {
  outPath: string;
  /** Length after trimming. */
  seconds: number;
  /** Length of the input as uploaded. */
  inputSeconds: number;
}

/** `maxInputSeconds`: decode at most this much of the input, whatever its header says. */
export async function prepareVoiceSample(inPath: string, outPath: string, options: { signal?: AbortSignal; maxInputSeconds?: number } = {}): Promise<VoiceSample> {
  const input = await probeMedia(inPath);
  await runFfmpeg({
    inputs: [{ path: inPath, options: options.maxInputSeconds ? ['-t', String(options.maxInputSeconds)] : [] }],
    // Trim the start, reverse, trim the (former) end, reverse back.
    filterGraph: `[0:a:0]aresample=${VOICE_SAMPLE_RATE},${trimOneEnd},areverse,${trimOneEnd},areverse[voice]`,
    outputOptions: ['-map', '[voice]', '-ac', '1', '-ar', String(VOICE_SAMPLE_RATE), '-c:a', 'pcm_s16le', '-f', 'wav', '-y'],
    output: outPath,
    signal: options.signal,
  });
  const output = await probeMedia(outPath).catch(() => null);
  return { outPath, seconds: output?.durationSeconds ?? 0, inputSeconds: input.durationSeconds };
}
