// The HTTP API's request and response shapes, as zod schemas: the handlers validate with them and
// the OpenAPI document (api/openapi.ts) is generated from them. Request objects are strict, so an
// unknown field is refused rather than silently dropped.
import { z } from 'zod';
import { Aspect, LIMITS, Progress, ScriptPlan, Scene, StageName, Voice } from '../gpu-bridge/contracts/index.ts';

/** An id the API hands out: a job id (jobs/<id>/ in storage). */
export const VideoId = z.string().regex(/^[a-z0-9][a-z0-9-]{5,63}$/, 'a video id: 6-64 characters of a-z, 0-9 and -');
export const VoiceName = z.string().min(1).max(64).describe('a saved voice: 1-32 letters, digits, - or _ once normalised (e.g. "anna")');

const planOptions = {
  seconds: z.number().min(LIMITS.minSeconds).max(LIMITS.maxSeconds).optional().describe('total length; else read from the prompt, else 30'),
  language: z.string().min(2).max(16).optional().describe('narration language tag, e.g. "en" or "pt-br"'),
  style: z.string().max(100).optional().describe('visual style, e.g. "watercolour"'),
  aspect: Aspect.optional(),
  music: z.boolean().optional(),
};

export const PlanBody = z
  .strictObject({
    prompt: z.string().min(1).max(LIMITS.maxPromptChars).describe('what the video is about, in plain words'),
    ...planOptions,
  })
  .meta({ id: 'PlanBody' });
export type PlanBody = z.infer<typeof PlanBody>;

/**
 * A plan written by the caller: the plan contract, every level strict, and without a voice
 * reference key (a saved voice is named with `voice`, so no one can point at another's sample).
 */
export const ClientPlan = ScriptPlan.extend({
  voice: Voice.omit({ referenceKey: true }).strict(),
  scenes: z.array(Scene.strict()).min(1).max(LIMITS.maxScenes),
})
  .strict()
  .meta({ id: 'ScriptPlan' });

export const CreateVideoBody = z
  .strictObject({
    prompt: z.string().min(1).max(LIMITS.maxPromptChars).optional().describe('planned first (give this or plan)'),
    ...planOptions,
    plan: ClientPlan.optional().describe('a plan to render as it is (give this or prompt)'),
    voice: VoiceName.optional().describe('one of your saved voices (POST /v1/voices) to narrate with'),
    approve: z.boolean().default(true).describe('false: the plan waits for POST /v1/videos/{id}/approve'),
  })
  .meta({ id: 'CreateVideoBody' });
export type CreateVideoBody = z.infer<typeof CreateVideoBody>;

export const VideoStatus = z.enum(['awaiting_approval', 'queued', 'running', 'done', 'failed', 'cancelled']);
export type VideoStatus = z.infer<typeof VideoStatus>;

export const Video = z
  .object({
    id: VideoId,
    status: VideoStatus,
    title: z.string(),
    plan: ScriptPlan,
    createdAt: z.string().describe('ISO 8601'),
    finishedAt: z.string().optional(),
    stage: StageName.optional(),
    percent: z.number().optional().describe('progress within the stage, 0-100'),
    overall: z.number().describe('progress of the whole video, 0-100'),
    message: z.string().optional(),
    backend: z.string().optional(),
    queuePosition: z.number().int().nullable().optional().describe('1-based place in line while queued'),
    error: z.string().optional().describe('why it failed, in one sentence'),
    result: z
      .object({
        seconds: z.number(),
        bytes: z.number().int(),
        backends: z.record(z.string(), z.string()).describe('which model or program made each stage'),
        clipUrl: z.string().describe('GET it for the MP4 (range requests, or a redirect to a presigned link)'),
      })
      .optional(),
  })
  .meta({ id: 'Video' });
export type Video = z.infer<typeof Video>;

export const SavedVoice = z
  .object({ name: z.string(), bytes: z.number().int(), modified: z.string(), seconds: z.number().optional(), transcript: z.string().nullable().optional() })
  .meta({ id: 'SavedVoice' });
export const VoiceList = z.object({ voices: z.array(SavedVoice) });

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().describe('a stable identifier, e.g. request.invalid, auth.required, job.notFound, limit.running'),
      message: z.string().describe('one sentence: what was wrong and what to do'),
    }),
  })
  .meta({ id: 'Error' });
export type ErrorBody = z.infer<typeof ErrorBody>;

export const Health = z.object({ ok: z.boolean(), queue: z.string() });

export const VideoParams = z.strictObject({ id: VideoId });
export const VoiceParams = z.strictObject({ name: VoiceName });

/** What each Server-Sent Event's data holds (event names: status, progress, done, failed, cancelled). */
export const ProgressEvent = Progress;
