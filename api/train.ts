// POST /v1/train and GET /v1/train/{id}: the same training jobs as chat (bot/styles.ts, bot/train.ts)
// for an API key's owner. A style: multipart, a "name" field then 8-40 image files, checked exactly as
// chat checks them (a refusal stores and queues nothing); a voice: JSON {kind: "voice", name} builds
// the profile of one of the key's saved voices. Either answers 202 with the training's id.
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { failureFromReason } from '../gpu-bridge/producer.ts';
import { STYLE_IMAGES, StyleLibrary, startTraining, NEEDS_GPU, type TrainingReadiness } from '../bot/styles.ts';
import { submitVoiceProfile } from '../bot/train.ts';
import { describeTrainResult, parseTrainResult } from '../bot/train-result.ts';
import type { ChatServices } from '../bot/frontends.ts';
import type { Owner } from '../bot/uploads/voices.ts';
import { ApiError } from './errors.ts';
import { VoiceName } from './contracts.ts';

export const TrainId = z.string().regex(/^(?:train|voice-profile)-[0-9a-f-]{36}$/, 'a training id: train-<uuid> or voice-profile-<uuid>');

export const TrainVoiceBody = z
  .strictObject({ kind: z.literal('voice'), name: VoiceName.describe('one of your saved voices (POST /v1/voices)') })
  .meta({ id: 'TrainVoiceBody' });

export const Training = z
  .object({
    id: TrainId,
    kind: z.enum(['style', 'voice']),
    name: z.string(),
    status: z.enum(['queued', 'running', 'done', 'failed']),
    stage: z.string().optional(),
    percent: z.number().optional(),
    message: z.string().optional(),
    summary: z.string().optional().describe('one sentence about the finished training, as chat says it'),
    result: z.record(z.string(), z.unknown()).optional().describe('the TrainResult contract'),
    error: z.string().optional().describe('why it failed, in one sentence'),
  })
  .meta({ id: 'Training' });
type Training = z.infer<typeof Training>;

/** The train_lora/train_voice refusals that mean "this installation cannot", not "your input is wrong". */
const isUnavailable = (message: string) => message === NEEDS_GPU || message.startsWith('Training a style needs');

export function registerTrainRoutes(app: FastifyInstance, services: ChatServices, ownerOf: (request: FastifyRequest) => Owner, readiness: TrainingReadiness): void {
  const { studio, voices } = services;
  const queue = studio.queue;

  app.post('/v1/train', async (request, reply) => {
    const owner = ownerOf(request);
    if (!request.isMultipart()) {
      const parsed = TrainVoiceBody.safeParse(request.body ?? {});
      if (!parsed.success) {
        throw new ApiError(400, 'request.invalid', 'Send {"kind": "voice", "name": "<saved voice>"} as JSON, or a style as multipart/form-data: a "name" field, then 8-40 "image" files.');
      }
      const voice = await voices.find(owner, parsed.data.name);
      if (!voice) throw new ApiError(404, 'voice.notFound', `You have no saved voice called "${parsed.data.name.slice(0, 64)}".`);
      const job = await submitVoiceProfile(queue, owner, voice.name, [voice.key]);
      const id = job.id ?? job.data.jobId;
      return reply.code(202).header('location', `/v1/train/${id}`).send({ id, kind: 'voice', name: voice.name, status: 'queued' } satisfies Training);
    }
    const folder = await mkdtemp(path.join(tmpdir(), 'spinbot-api-train-'));
    try {
      let name: string | undefined;
      const files: { path: string; name: string }[] = [];
      for await (const part of request.parts({ limits: { files: STYLE_IMAGES.max + 10, fields: 2, parts: STYLE_IMAGES.max + 12 } })) {
        if (part.type === 'field') {
          if (part.fieldname !== 'name') throw new ApiError(400, 'request.invalid', `Unknown field "${part.fieldname.slice(0, 40)}": send "name", then "image" files.`);
          name = String(part.value);
          continue;
        }
        if (part.fieldname !== 'image') {
          part.file.resume();
          throw new ApiError(400, 'request.invalid', `Unexpected file field "${part.fieldname.slice(0, 40)}": send the pictures as "image" files.`);
        }
        const local = path.join(folder, `${String(files.length + 1).padStart(2, '0')}-upload`);
        await pipeline(part.file, createWriteStream(local));
        if (part.file.truncated) throw Object.assign(new Error('file too large'), { code: 'FST_REQ_FILE_TOO_LARGE' });
        files.push({ path: local, name: part.filename || `picture ${files.length + 1}` });
      }
      if (name === undefined) throw new ApiError(400, 'request.invalid', 'A style needs a "name" field (curl -F name=watercolour -F image=@a.png ...).');
      const started = await startTraining(new StyleLibrary(studio.storage), queue, owner, name, files, { jobId: `train-${randomUUID()}`, readiness });
      if (!started.ok) {
        if (isUnavailable(started.message)) throw new ApiError(503, 'train.noGpu', started.message);
        if (/already have a style/.test(started.message)) throw new ApiError(409, 'style.exists', started.message);
        throw new ApiError(400, 'train.invalid', started.message);
      }
      return reply.code(202).header('location', `/v1/train/${started.jobId}`).send({ id: started.jobId, kind: 'style', name, status: 'queued' } satisfies Training);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  app.get('/v1/train/:id', async (request, reply) => {
    const owner = ownerOf(request);
    const { id } = request.params as { id: string };
    const notFound = new ApiError(404, 'train.notFound', `There is no training "${id.slice(0, 64)}" for this key.`);
    if (!TrainId.safeParse(id).success) throw notFound;
    const job = await queue.queue.getJob(id);
    const data = job?.data as { kind?: string; name?: string; requestedBy?: { platform: string; userId: string } } | undefined;
    if (!job || !data || (data.kind !== 'train_lora' && data.kind !== 'train_voice') || data.requestedBy?.platform !== owner.platform || data.requestedBy.userId !== owner.userId) throw notFound;
    const state = await job.getState();
    const progress = (typeof job.progress === 'object' ? job.progress : {}) as { stage?: string; percent?: number; message?: string };
    const training: Training = { id, kind: data.kind === 'train_lora' ? 'style' : 'voice', name: data.name ?? '', status: 'queued' };
    if (state === 'completed') {
      const result = parseTrainResult(job.returnvalue);
      Object.assign(training, { status: 'done', summary: describeTrainResult(result), result });
    } else if (state === 'failed') {
      Object.assign(training, { status: 'failed', error: failureFromReason(job.failedReason).message });
    } else if (state === 'active') {
      Object.assign(training, { status: 'running', stage: progress.stage, percent: progress.percent, message: progress.message });
    }
    return reply.header('cache-control', 'no-store').send(training);
  });
}
