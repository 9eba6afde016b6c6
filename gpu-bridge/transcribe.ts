// What is said in a saved voice sample, recognised by the worker (the `transcribe` job: Whisper on
// the CPU), so the Node side stays model-free. Voice cloning needs the words of its reference sample,
// and the user sees them ("I heard: ...") to know the sample was understood.
import { randomUUID } from 'node:crypto';
import { CONTRACT_VERSION, TranscribeResult, type GpuJobInput } from './contracts/index.ts';
import type { GpuQueue } from './producer.ts';

export interface SampleToTranscribe {
  audioKey: string;
  /** Where the worker stores the transcript (JSON: text, language), beside the sample. */
  transcriptKey: string;
  requestedBy: Extract<GpuJobInput, { kind: 'transcribe' }>['requestedBy'];
  /** The speech's language when known; omitted: Whisper detects it. */
  language?: string;
}

/** A saved sample's transcript key: users/<p>/<id>/voices/anna.wav -> .../anna.transcript.json. */
export function transcriptKeyFor(audioKey: string): string {
  return audioKey.replace(/\.wav$/, '') + '.transcript.json';
}

/** Queues a transcribe job and waits for its result; rejects with the producer's StageFailure. */
export async function transcribeSample(queue: GpuQueue, sample: SampleToTranscribe, signal?: AbortSignal): Promise<TranscribeResult> {
  const job = await queue.submit({
    kind: 'transcribe',
    contractVersion: CONTRACT_VERSION,
    jobId: `transcribe-${randomUUID()}`,
    requestedBy: sample.requestedBy,
    audioKey: sample.audioKey,
    transcriptKey: sample.transcriptKey,
    ...(sample.language ? { language: sample.language } : {}),
  });
  return queue.waitForResult(job, TranscribeResult, { signal });
}

const MAX_SHOWN_CHARS = 300;

/** The sentence a user reads after saving a sample: what was heard, or that nothing was. */
export function heardLine(transcript: string | null | undefined): string {
  if (transcript === undefined) return '';
  if (transcript === null) return ' I could not transcribe it just now (the worker is busy); the voice is saved anyway.';
  const text = transcript.trim();
  if (!text) return ' I heard no words in it: a sample with clear speech clones better.';
  return ` I heard: "${text.length > MAX_SHOWN_CHARS ? `${text.slice(0, MAX_SHOWN_CHARS - 1)}…` : text}"`;
}

/** How long a chat waits for the transcript before answering without it (the worker may be busy rendering). */
export const TRANSCRIPT_WAIT_MS = 60_000;

/**
 * For VoiceLibrary: transcribes a just-saved sample through the queue; the text, or null when it could
 * not be had in time (the job still finishes and stores the transcript beside the sample).
 */
export function sampleTranscriber(queue: GpuQueue, waitMs = TRANSCRIPT_WAIT_MS) {
  return (audioKey: string, owner: { platform: 'console' | 'discord' | 'telegram' | 'api'; userId: string }): Promise<string | null> =>
    transcribeSample(queue, { audioKey, transcriptKey: transcriptKeyFor(audioKey), requestedBy: { platform: owner.platform, userId: owner.userId } }, AbortSignal.timeout(waitMs))
      .then((result) => result.text)
      .catch(() => null);
}
