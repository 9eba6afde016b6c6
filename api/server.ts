// The HTTP API: one more front-end, platform 'api', whose user is the API key's owner. It is built
// on the same ChatServices as Discord and Telegram (bot/frontends.ts): the planner, the JobRunner
// with its per-user limits, daily quota, job records and outbox, the voice library and storage.
// Only the transport differs: JSON in and out, progress as Server-Sent Events, the clip by download.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { AddressInfo } from 'node:net';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { checkSeconds } from '../agent/nodes/understand.ts';
import { mib, resolveChatConfig, type ChatConfig } from '../bot/chat-config.ts';
import { createJobServices, type ChatServices, type FrontEnd, type FrontEndDeps } from '../bot/frontends.ts';
import { jobIdForDispatch, type JobRecord } from '../bot/jobs.ts';
import type { Owner } from '../bot/uploads/voices.ts';
import type { ScriptPlan } from '../gpu-bridge/contracts/index.ts';
import { ScriptPlan as ScriptPlanContract } from '../gpu-bridge/contracts/index.ts';
import { ACTIVE_STATES } from '../pipeline/job-store.ts';
import { FsStorage } from '../storage/fs.ts';
import { ApiChannel } from './channel.ts';
import type { ApiKeys } from './config.ts';
import { CreateVideoBody, PlanBody, VideoId, type Video } from './contracts.ts';
import { Drafts, type Draft } from './drafts.ts';
import { ApiError, describeApiError, invalidRequest, logLine, sendError } from './errors.ts';
import { isFinal, VideoEvents } from './events.ts';
import { buildOpenApi, docsPage } from './openapi.ts';
import { parseRange } from './range.ts';
import { registerTrainRoutes } from './train.ts';
import { comfyTrainingReadiness, type TrainingReadiness } from '../bot/styles.ts';

export interface ApiServerOptions {
  port: number;
  host: string;
  keys: ApiKeys;
  /** Largest JSON body accepted (default 256 KB). */
  bodyLimitBytes?: number;
  /** How often a video's event stream checks its record besides the queue's events (default 1 s). */
  eventCheckMs?: number;
  /** Whether a worker can train styles (default: the worker's ComfyUI preflight, as chat asks). */
  trainingReadiness?: TrainingReadiness;
}

export interface ApiServer extends FrontEnd {
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  app: FastifyInstance;
  services: ChatServices;
  events: VideoEvents;
  /** Every route served (method and URL), e.g. to check that the OpenAPI document lists them all. */
  routes: Array<{ method: string; url: string }>;
}

declare module 'fastify' {
  interface FastifyRequest {
    owner: Owner | null;
  }
}

const NOT_FOUND = (id: string) => new ApiError(404, 'job.notFound', `There is no video "${id.slice(0, 64)}" for this key (finished ones are kept for 30 days).`);
const PLAN_OPTIONS = ['seconds', 'language', 'style', 'aspect', 'music'] as const;

function parse<T extends z.ZodType>(schema: T, value: unknown, what?: string): z.infer<T> {
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) throw invalidRequest(parsed.error, what);
  return parsed.data;
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

/** A plan written by the caller: the contract's checks, then the same length limits as a planned one. */
function checkClientPlan(plan: ScriptPlan): ScriptPlan {
  checkSeconds(plan.scenes.reduce((sum, scene) => sum + scene.seconds, 0));
  return ScriptPlanContract.parse(plan);
}

export async function startApiServer(deps: FrontEndDeps, options: ApiServerOptions): Promise<ApiServer> {
  const config: ChatConfig = resolveChatConfig(deps.config);
  const log = deps.log ?? ((line: string) => process.stderr.write(`[api] ${line}\n`));
  const { studio, planner } = deps;
  // Jobs started before a restart are watched again, and their outbox entries taken, like chat's.
  const { services, close: closeServices } = createJobServices(deps, config, log, {
    platform: 'api',
    resume: (destination) => new ApiChannel(destination.userId, destination.chatId),
  });
  const { jobs, voices } = services;
  const drafts = new Drafts(studio.jobs.redis);
  const bodyLimit = options.bodyLimitBytes ?? 256 * 1024;
  const uploadLimit = mib(config.SPINBOT_MAX_UPLOAD_MB);
  const limits = { bodyKb: Math.round(bodyLimit / 1024), uploadMb: config.SPINBOT_MAX_UPLOAD_MB };

  const videoOf = async (record: JobRecord): Promise<Video> => {
    const status = record.state === 'made' ? 'done' : record.state;
    const progress = record.progress;
    const video: Video = {
      id: record.jobId,
      status,
      title: record.plan.title,
      plan: record.plan,
      createdAt: iso(record.createdAt)!,
      finishedAt: iso(record.finishedAt),
      overall: status === 'done' ? 100 : (progress?.overall ?? 0),
      ...(progress && status === 'running' ? { stage: progress.stage, percent: progress.percent, message: progress.message, backend: progress.backend } : {}),
      ...(record.error && status === 'failed' ? { error: record.error } : {}),
    };
    if (status === 'queued') video.queuePosition = await studio.renders.position(record.jobId).catch(() => null);
    if (status === 'done' && record.clip) {
      video.result = { seconds: record.clip.seconds, bytes: record.clip.bytes, backends: record.clip.backends, clipUrl: `/v1/videos/${record.jobId}/clip` };
    }
    return video;
  };
  const draftVideo = (id: string, draft: Draft): Video => ({
    id,
    status: 'awaiting_approval',
    title: draft.plan.title,
    plan: draft.plan,
    createdAt: iso(draft.createdAt)!,
    overall: 0,
    message: `Waiting for POST /v1/videos/${id}/approve`,
  });
  /** The video behind an id, if it is this owner's: a job record, or a plan awaiting approval. */
  const findOwned = async (owner: Owner, id: string): Promise<{ record?: JobRecord; draft?: Draft }> => {
    if (!VideoId.safeParse(id).success) return {};
    const record = await studio.jobs.get(id);
    if (record) return record.owner.platform === owner.platform && record.owner.userId === owner.userId ? { record } : {};
    const draft = await drafts.get(id);
    return draft && draft.owner === owner.userId ? { draft } : {};
  };
  const ownedVideo = async (owner: Owner, id: string): Promise<{ video: Video; record?: JobRecord }> => {
    const { record, draft } = await findOwned(owner, id);
    if (record) return { video: await videoOf(record), record };
    if (draft) return { video: draftVideo(id, draft) };
    throw NOT_FOUND(id);
  };
  const events = new VideoEvents(
    studio.renders,
    async (jobId) => {
      const record = await studio.jobs.get(jobId);
      return record ? videoOf(record) : undefined;
    },
    options.eventCheckMs,
  );

  const app = Fastify({ logger: false, bodyLimit, exposeHeadRoutes: true, return503OnClosing: true });
  // JSON only (and multipart on /v1/voices): a text/plain body is a wrong content type, not a string.
  app.removeContentTypeParser('text/plain');
  await app.register(multipart, { limits: { fileSize: uploadLimit, files: 1, fields: 2, parts: 3, fieldSize: 1024 } });
  app.decorateRequest('owner', null);
  const routes: ApiServer['routes'] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push({ method, url: route.url });
  });

  app.setErrorHandler((error, request, reply) => {
    const { status, body, unexpected } = describeApiError(error, limits);
    if (unexpected) log(logLine(request, error));
    return sendError(reply, status, body);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, { error: { code: 'route.notFound', message: `There is no ${request.method} ${request.url.split('?')[0]!.slice(0, 100)} here; the routes are listed at /docs.` } }),
  );

  // Every /v1 route needs a key: Authorization: Bearer <key> or X-API-Key: <key>. Keys are never logged.
  app.addHook('onRequest', async (request, reply) => {
    // By the matched route, not the raw URL, so that no spelling of a path (encoded, doubled
    // slashes) reaches a /v1 handler without a key; unknown paths get the JSON 404 either way.
    if (!request.routeOptions.url?.startsWith('/v1/')) return;
    const header = request.headers.authorization;
    const bearer = typeof header === 'string' && /^Bearer\s+/i.test(header) ? header.replace(/^Bearer\s+/i, '').trim() : undefined;
    const presented = bearer ?? (typeof request.headers['x-api-key'] === 'string' ? request.headers['x-api-key'].trim() : undefined);
    const owner = options.keys.ownerOf(presented);
    if (!owner) {
      reply.header('www-authenticate', 'Bearer');
      return sendError(reply, 401, { error: { code: 'auth.required', message: 'A valid API key is needed: send "Authorization: Bearer <key>" (or X-API-Key).' } });
    }
    request.owner = { platform: 'api', userId: owner };
  });
  const ownerOf = (request: FastifyRequest): Owner => request.owner!;
  const requireJson = (request: FastifyRequest) => {
    if (request.isMultipart()) throw new ApiError(415, 'request.contentType', 'Send the body as JSON (Content-Type: application/json); multipart is only for POST /v1/voices and a style\'s POST /v1/train.');
  };

  app.get('/healthz', async (_request, reply) => {
    const up = await studio.jobs.available().then(
      () => true,
      () => false,
    );
    return reply.code(up ? 200 : 503).header('cache-control', 'no-store').send({ ok: up, queue: up ? 'ok' : 'unavailable' });
  });
  const openapi = buildOpenApi();
  app.get('/docs/openapi.json', async () => openapi);
  app.get('/docs', async (_request, reply) => reply.type('text/html; charset=utf-8').send(docsPage()));

  app.post('/v1/plans', async (request) => {
    requireJson(request);
    const body = parse(PlanBody, request.body);
    planner.validate(body);
    return planner.plan(body);
  });

  app.post('/v1/videos', async (request, reply) => {
    requireJson(request);
    const owner = ownerOf(request);
    const body = parse(CreateVideoBody, request.body);
    if (Boolean(body.prompt) === Boolean(body.plan)) {
      throw new ApiError(400, 'request.invalid', body.plan ? 'Give "prompt" or "plan", not both.' : 'Give "prompt" (a video to plan) or "plan" (a plan to render as it is).');
    }
    const options = PLAN_OPTIONS.filter((name) => body[name] !== undefined);
    if (body.plan && options.length) throw new ApiError(400, 'request.invalid', `${options.join(', ')} only apply to a prompt; change the plan itself instead.`);
    // Held from the request's arrival, as chat does, so that quick repeats are refused at once.
    const reservation = jobs.reserve(owner);
    try {
      // A saved voice that does not exist is refused before any planning.
      const voiceName = body.voice ? (await voices.require(owner, body.voice)).name : undefined;
      let plan: ScriptPlan;
      if (body.plan) plan = checkClientPlan(body.plan as ScriptPlan);
      else {
        const request = { prompt: body.prompt!, seconds: body.seconds, language: body.language, style: body.style, aspect: body.aspect, music: body.music };
        planner.validate(request);
        plan = await planner.plan(request);
      }
      // The job id is fixed now, from the draft's id: approving later (twice, or after a crash) is one job.
      const draftId = randomBytes(8).toString('hex');
      const id = jobIdForDispatch(draftId, owner, owner.userId);
      const draft: Draft = { draftId, owner: owner.userId, plan, voiceName, createdAt: Date.now() };
      let video: Video;
      if (!body.approve) {
        await drafts.save(id, draft);
        video = draftVideo(id, draft);
      } else {
        video = await videoOf(await jobs.start(new ApiChannel(owner.userId), { plan, voiceName }, reservation, draftId));
      }
      return reply.code(201).header('location', `/v1/videos/${id}`).send(video);
    } finally {
      reservation.release();
    }
  });

  app.post('/v1/videos/:id/approve', async (request, reply) => {
    const owner = ownerOf(request);
    const { id } = request.params as { id: string };
    const { record, draft } = await findOwned(owner, id);
    if (record) throw new ApiError(409, 'video.notWaiting', `Video ${id} is already ${record.state === 'made' ? 'done' : record.state}; only a plan awaiting approval can be approved.`);
    if (!draft) throw NOT_FOUND(id);
    const reservation = jobs.reserve(owner);
    try {
      // Taken atomically: of two approvals at once, one starts the job and the other is told.
      if (!(await drafts.take(id))) throw new ApiError(409, 'video.notWaiting', `Video ${id} is being approved by another request.`);
      try {
        const started = await jobs.start(new ApiChannel(owner.userId), { plan: draft.plan, voiceName: draft.voiceName }, reservation, draft.draftId);
        return reply.code(202).send(await videoOf(started));
      } catch (error) {
        // Not started (a limit, the queue down): the plan keeps waiting and can be approved later.
        await drafts.save(id, draft).catch(() => {});
        throw error;
      }
    } finally {
      reservation.release();
    }
  });

  app.get('/v1/videos/:id', async (request, reply) => {
    const { video } = await ownedVideo(ownerOf(request), (request.params as { id: string }).id);
    return reply.header('cache-control', 'no-store').send(video);
  });

  app.delete('/v1/videos/:id', async (request) => {
    const owner = ownerOf(request);
    const { id } = request.params as { id: string };
    const { record, draft } = await findOwned(owner, id);
    if (draft) {
      await drafts.take(id);
      return { ...draftVideo(id, draft), status: 'cancelled', message: 'The plan was dropped; nothing was rendered.' } satisfies Video;
    }
    if (!record) throw NOT_FOUND(id);
    if (!ACTIVE_STATES.includes(record.state)) {
      throw new ApiError(409, 'video.finished', `Video ${id} is already ${record.state === 'made' ? 'done' : record.state}; there is nothing to cancel.`);
    }
    const cancelled = await jobs.cancel(owner, id);
    void events.check(id);
    return videoOf({ ...cancelled, finishedAt: Date.now() });
  });

  app.get('/v1/videos/:id/events', async (request, reply) => {
    const id = (request.params as { id: string }).id;
    const { video } = await ownedVideo(ownerOf(request), id);
    if (video.status === 'awaiting_approval') throw new ApiError(409, 'video.notApproved', `Video ${id} waits for approval (POST /v1/videos/${id}/approve); its events start once it is queued.`);
    reply.hijack();
    const response = reply.raw;
    response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const send = (name: string, data: unknown) => response.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
    send('status', video);
    if (isFinal(video.status)) {
      send(video.status, video);
      response.end();
      return reply;
    }
    // A comment now and then keeps proxies from closing a quiet stream (a long wait in the queue).
    const keepAlive = setInterval(() => response.write(': keep-alive\n\n'), 15_000);
    let unsubscribe = () => {};
    const finish = () => {
      clearInterval(keepAlive);
      unsubscribe();
    };
    unsubscribe = events.subscribe(id, (event) => {
      send(event.name, event.data);
      if (event.final) {
        finish();
        response.end();
      }
    });
    response.on('close', finish);
    return reply;
  });

  app.get('/v1/videos/:id/clip', async (request, reply) => {
    const id = (request.params as { id: string }).id;
    const { video, record } = await ownedVideo(ownerOf(request), id);
    const clip = record?.clip;
    if (video.status !== 'done' || !clip) throw new ApiError(409, 'video.notReady', `Video ${id} is ${video.status.replace('_', ' ')}; its clip can be downloaded once it is done.`);
    const storage = studio.storage;
    if (!(storage instanceof FsStorage)) {
      // Object storage: the client fetches the clip straight from the store (ranges work there too).
      return reply.redirect(await storage.link(clip.key, { expiresSeconds: 3600 }), 302);
    }
    const stored = await storage.stat(clip.key);
    if (!stored) throw new ApiError(404, 'job.notFound', `The clip of video ${id} is no longer stored.`);
    const range = parseRange(request.headers.range, stored.bytes);
    reply.header('accept-ranges', 'bytes').header('content-type', 'video/mp4').header('cache-control', 'private, max-age=3600');
    reply.header('content-disposition', `attachment; filename="${id}.mp4"`);
    if (range === 'unsatisfiable') {
      reply.header('content-range', `bytes */${stored.bytes}`);
      throw new ApiError(416, 'range.unsatisfiable', `The clip has ${stored.bytes} bytes; the range asked for is outside it.`);
    }
    if (range) {
      reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${stored.bytes}`).header('content-length', range.end - range.start + 1);
      return reply.send(createReadStream(storage.pathOf(clip.key), range));
    }
    reply.header('content-length', stored.bytes);
    return reply.send(createReadStream(storage.pathOf(clip.key)));
  });

  app.post('/v1/voices', async (request, reply) => {
    if (!request.isMultipart()) throw new ApiError(415, 'request.contentType', 'Send the voice sample as multipart/form-data with a "name" field and then a "file" field.');
    const owner = ownerOf(request);
    let name: string | undefined;
    let saved: Awaited<ReturnType<typeof voices.addSample>> | undefined;
    for await (const part of request.parts()) {
      if (part.type === 'field') {
        if (part.fieldname !== 'name') throw new ApiError(400, 'request.invalid', `Unknown field "${part.fieldname.slice(0, 40)}": send only "name" and "file".`);
        name = String(part.value);
        continue;
      }
      if (part.fieldname !== 'file' || saved) {
        part.file.resume();
        throw new ApiError(400, 'request.invalid', `Unexpected file field "${part.fieldname.slice(0, 40)}": send one "file".`);
      }
      if (name === undefined) {
        part.file.resume();
        throw new ApiError(400, 'request.invalid', 'Send the "name" field before the "file" field (curl -F name=anna -F file=@sample.ogg).');
      }
      const voiceName = name;
      saved = await voices
        .addSample(owner, voiceName, async (path) => {
          await pipeline(part.file, createWriteStream(path));
          // Cut off at the limit: refused as a whole, never checked as a shorter sample.
          if (part.file.truncated) throw Object.assign(new Error('file too large'), { code: 'FST_REQ_FILE_TOO_LARGE' });
        })
        .finally(() => part.file.resume());
    }
    if (!saved) throw new ApiError(400, 'request.invalid', 'No "file" field was sent: send the sample as multipart/form-data with "name" and "file".');
    const stored = await voices.find(owner, saved.name);
    return reply.code(201).send({
      name: saved.name,
      bytes: stored?.bytes ?? 0,
      modified: (stored?.modified ?? new Date()).toISOString(),
      seconds: saved.seconds,
      transcript: saved.transcript ?? null,
    });
  });

  app.get('/v1/voices', async (request) => {
    const saved = await voices.list(ownerOf(request));
    return { voices: saved.map((v) => ({ name: v.name, bytes: v.bytes, modified: v.modified.toISOString() })) };
  });

  app.delete('/v1/voices/:name', async (request, reply) => {
    const { name } = request.params as { name: string };
    if (!(await voices.remove(ownerOf(request), name))) throw new ApiError(404, 'voice.notFound', `You have no saved voice called "${name.slice(0, 64)}".`);
    return reply.code(204).send();
  });

  registerTrainRoutes(app, services, ownerOf, options.trainingReadiness ?? comfyTrainingReadiness());

  try {
    await app.listen({ port: options.port, host: options.host });
  } catch (error) {
    await closeServices();
    throw new Error(`The HTTP API could not listen on ${options.host}:${options.port}: ${(error as Error).message}`, { cause: error });
  }
  // Jobs of this platform still in the works, and outcomes waiting in its outbox, are taken up now.
  await jobs.resume();
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let stopping: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    app,
    services,
    events,
    routes,
    stop: () =>
      (stopping ??= (async () => {
        events.close();
        try {
          await jobs.close();
          // Open event streams would hold close() until their clients leave.
          app.server.closeAllConnections?.();
          await app.close();
        } finally {
          await closeServices();
        }
      })()),
  };
}
