// The OpenAPI 3.1 document of the HTTP API, generated from the zod contracts in api/contracts.ts
// (z.toJSONSchema; JSON Schema 2020-12 is OpenAPI 3.1's schema dialect). Served at /docs/openapi.json
// with a small HTML page at /docs.
import { z } from 'zod';
import { CreateVideoBody, ErrorBody, Health, PlanBody, SavedVoice, Video, VideoId, VoiceList } from './contracts.ts';
import { ScriptPlan } from '../gpu-bridge/contracts/index.ts';
import { TrainId, Training, TrainVoiceBody } from './train.ts';

type Schema = z.ZodType;
interface Operation {
  method: 'get' | 'post' | 'delete';
  path: string;
  summary: string;
  auth?: boolean;
  /** multipart: the voice upload's form unless `form` describes another. */
  body?: { schema: Schema } | { multipart: true; form?: Record<string, unknown>; alsoJson?: Schema };
  ok: { status: number; description: string; schema?: Schema; content?: string };
  errors: number[];
}

const ERROR_TEXT: Record<number, string> = {
  400: 'Bad input (wrong types, unknown fields, broken JSON)',
  401: 'No valid API key',
  404: 'No such video or voice for this key',
  409: 'Not possible in the video\u2019s current state',
  413: 'Body or upload too large',
  415: 'Wrong content type',
  416: 'Range not satisfiable',
  422: 'Refused input (a length out of range, an unreadable sample...)',
  429: 'Running-job limit or daily quota reached',
  503: 'Queue or planner unavailable',
};

const videoPath = '/v1/videos/{id}';
export const OPERATIONS: Operation[] = [
  { method: 'get', path: '/healthz', summary: 'Whether the API and its queue answer', auth: false, ok: { status: 200, description: 'Up', schema: Health }, errors: [503] },
  { method: 'post', path: '/v1/plans', summary: 'Plan a video from a prompt (nothing is queued)', body: { schema: PlanBody }, ok: { status: 200, description: 'The validated plan', schema: ScriptPlan }, errors: [400, 401, 413, 415, 422, 503] },
  {
    method: 'post',
    path: '/v1/videos',
    summary: 'Make a video from a prompt (planned first) or from a plan; approve:false waits for approval',
    body: { schema: CreateVideoBody },
    ok: { status: 201, description: 'The video (queued, or awaiting approval)', schema: Video },
    errors: [400, 401, 404, 413, 415, 422, 429, 503],
  },
  { method: 'get', path: videoPath, summary: 'A video: status, stage, percent, place in line, result with backends', ok: { status: 200, description: 'The video', schema: Video }, errors: [401, 404] },
  { method: 'delete', path: videoPath, summary: 'Cancel a video (queued, running or awaiting approval)', ok: { status: 200, description: 'The cancelled video', schema: Video }, errors: [401, 404, 409] },
  { method: 'post', path: `${videoPath}/approve`, summary: 'Approve a plan that waits, which queues it', ok: { status: 202, description: 'The queued video', schema: Video }, errors: [401, 404, 409, 429, 503] },
  {
    method: 'get',
    path: `${videoPath}/events`,
    summary: 'Server-Sent Events: status first, every progress event (overall never goes back), then done, failed or cancelled (data: the video)',
    ok: { status: 200, description: 'An event stream', content: 'text/event-stream' },
    errors: [401, 404, 409],
  },
  {
    method: 'get',
    path: `${videoPath}/clip`,
    summary: 'The MP4 (range requests supported), or a redirect to a presigned link under S3 storage',
    ok: { status: 200, description: 'The clip (206 for a range)', content: 'video/mp4' },
    errors: [401, 404, 409, 416],
  },
  { method: 'post', path: '/v1/voices', summary: 'Save a voice sample (multipart: name, then file; 3-30 s of speech)', body: { multipart: true }, ok: { status: 201, description: 'The saved voice', schema: SavedVoice }, errors: [400, 401, 413, 415, 422] },
  { method: 'get', path: '/v1/voices', summary: 'Your saved voices', ok: { status: 200, description: 'The voices', schema: VoiceList }, errors: [401] },
  { method: 'delete', path: '/v1/voices/{name}', summary: 'Remove a saved voice', ok: { status: 204, description: 'Removed' }, errors: [401, 404] },
  {
    method: 'post',
    path: '/v1/train',
    summary: 'Train a style (multipart: name, then 8-40 image files, on a GPU worker) or build a saved voice\u2019s profile (JSON {kind: "voice", name})',
    body: {
      multipart: true,
      form: {
        type: 'object',
        required: ['name', 'image'],
        properties: { name: { type: 'string', description: 'the style name, sent before the pictures' }, image: { type: 'array', items: { type: 'string', contentMediaType: 'application/octet-stream' }, minItems: 8, maxItems: 40 } },
      },
      alsoJson: TrainVoiceBody,
    },
    ok: { status: 202, description: 'The training, queued', schema: Training },
    errors: [400, 401, 404, 409, 413, 503],
  },
  { method: 'get', path: '/v1/train/{id}', summary: 'A training: status, progress, and the result (TrainResult) once done', ok: { status: 200, description: 'The training', schema: Training }, errors: [401, 404] },
];

/** The Fastify form of an OpenAPI path: /v1/videos/{id} -> /v1/videos/:id. */
export function fastifyPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1');
}

export function buildOpenApi(options: { serverUrl?: string } = {}): Record<string, unknown> {
  const components: Record<string, unknown> = {};
  // Each schema's named parts ($defs) become shared components; its root is referenced or inlined.
  const toSchema = (schema: Schema, io: 'input' | 'output') => {
    const { $schema: _dialect, $defs, ...root } = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' }) as Record<string, unknown> & {
      $defs?: Record<string, unknown>;
    };
    const relink = (value: unknown) => JSON.parse(JSON.stringify(value).replaceAll('"#/$defs/', '"#/components/schemas/')) as Record<string, unknown>;
    for (const [name, def] of Object.entries($defs ?? {})) components[name] = relink(def);
    return relink(root);
  };
  const errorRef = toSchema(ErrorBody, 'output');
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const parameters = [...op.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
      name,
      in: 'path',
      required: true,
      schema: name === 'id' ? toSchema(op.path.startsWith('/v1/train') ? TrainId : VideoId, 'input') : { type: 'string', minLength: 1, maxLength: 64 },
    }));
    const responses: Record<string, unknown> = {
      [op.ok.status]: {
        description: op.ok.description,
        ...(op.ok.schema ? { content: { 'application/json': { schema: toSchema(op.ok.schema, 'output') } } } : {}),
        ...(op.ok.content ? { content: { [op.ok.content]: { schema: { type: 'string' } } } } : {}),
      },
    };
    for (const status of op.errors) responses[status] = { description: ERROR_TEXT[status] ?? 'Error', content: { 'application/json': { schema: errorRef } } };
    const body =
      op.body && 'schema' in op.body
        ? { required: true, content: { 'application/json': { schema: toSchema(op.body.schema, 'input') } } }
        : op.body
          ? {
              required: true,
              content: {
                'multipart/form-data': {
                  schema: op.body.form ?? {
                    type: 'object',
                    required: ['name', 'file'],
                    properties: { name: { type: 'string', description: 'the voice name, sent before the file' }, file: { type: 'string', contentMediaType: 'application/octet-stream' } },
                  },
                },
                ...(op.body.alsoJson ? { 'application/json': { schema: toSchema(op.body.alsoJson, 'input') } } : {}),
              },
            }
          : undefined;
    (paths[op.path] ??= {})[op.method] = {
      summary: op.summary,
      operationId: `${op.method}${op.path.replace(/[{}]/g, '').replace(/\/(\w)/g, (_, c: string) => c.toUpperCase()).replace(/\W/g, '')}`,
      ...(op.auth === false ? { security: [] } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(body ? { requestBody: body } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'MySpinBot HTTP API',
      version: '1',
      description: 'Plan, render and download narrated videos through the same planner, queue, storage and limits as the chat front-ends.',
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    security: [{ bearer: [] }, { apiKey: [] }],
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <key>' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
    },
  };
}

/** The page at /docs: the routes, and where the machine-readable document is. */
export function docsPage(): string {
  const rows = OPERATIONS.map((op) => `<tr><td><code>${op.method.toUpperCase()}</code></td><td><code>${op.path}</code></td><td>${escapeHtml(op.summary)}</td></tr>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MySpinBot HTTP API</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}td{padding:.3rem .6rem;vertical-align:top}</style></head>
<body><h1>MySpinBot HTTP API</h1>
<p>Send your key as <code>Authorization: Bearer &lt;key&gt;</code> or <code>X-API-Key</code>. Errors are JSON: <code>{"error": {"code", "message"}}</code>.
The OpenAPI 3.1 document: <a href="/docs/openapi.json">/docs/openapi.json</a>.</p>
<table>${rows}</table></body></html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
