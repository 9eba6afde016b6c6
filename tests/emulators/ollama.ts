// A small Ollama protocol server for tests: POST /api/chat (streamed NDJSON, or one JSON object
// when the client sends stream:false), GET /api/tags, GET /api/version, GET /. A model that is not
// installed answers 404 {"error":"model \"x\" not found, try pulling it first"} like Ollama does.
// The reply is scripted per request; by default it follows the request's `format` JSON Schema
// well enough for the planner (a title and minItems scenes).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OllamaChatRequest {
  model: string;
  messages: { role: string; content: string }[];
  stream?: boolean;
  format?: string | Record<string, unknown>;
  options?: Record<string, unknown>;
  keep_alive?: unknown;
  tools?: unknown;
}

export interface OllamaEmulatorOptions {
  /** Installed models, as /api/tags lists them (e.g. "qwen2.5:7b-instruct"). */
  models?: string[];
  /** Models that /api/tags lists but /api/chat reports missing (a model removed in between). */
  brokenModels?: string[];
  /** The assistant's answer; a non-string is sent as JSON text. */
  reply?: (request: OllamaChatRequest) => string | object;
  /** Characters per streamed chunk. */
  chunkSize?: number;
  port?: number;
}

export interface OllamaEmulator {
  url: string;
  /** Every /api/chat request body, in order. */
  chatRequests: OllamaChatRequest[];
  /** Every request line, e.g. "GET /api/tags". */
  log: string[];
  close(): Promise<void>;
}

/** A reply that satisfies the planner's schema: minItems scenes (default 3). */
export function schemaFollowingReply(request: OllamaChatRequest): object {
  const format = typeof request.format === 'object' ? request.format : undefined;
  const scenesSchema = (format?.properties as Record<string, { minItems?: number }> | undefined)?.scenes;
  const count = scenesSchema?.minItems ?? 3;
  return {
    title: 'A plan from the Ollama emulator',
    scenes: Array.from({ length: count }, (_, i) => ({
      narration: `This is scene number ${i + 1} of the emulated plan.`,
      visualPrompt: `a simple illustration for scene ${i + 1}`,
      onScreenText: `Scene ${i + 1}`,
    })),
  };
}

const installed = (list: string[], name: string) =>
  list.some((m) => m === name || m === `${name}:latest` || `${m}:latest` === name);

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

export async function startOllamaEmulator(options: OllamaEmulatorOptions = {}): Promise<OllamaEmulator> {
  const models = options.models ?? ['qwen2.5:7b-instruct'];
  const broken = options.brokenModels ?? [];
  const reply = options.reply ?? schemaFollowingReply;
  const chunkSize = options.chunkSize ?? 16;
  const chatRequests: OllamaChatRequest[] = [];
  const log: string[] = [];

  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    log.push(`${req.method} ${path}`);
    try {
      if (req.method === 'GET' && path === '/') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('Ollama is running');
        return;
      }
      if (req.method === 'GET' && path === '/api/version') return sendJson(res, 200, { version: '0.12.0' });
      if (req.method === 'GET' && path === '/api/tags') {
        return sendJson(res, 200, {
          models: [...models, ...broken].map((name) => ({
            name,
            model: name,
            modified_at: '2025-01-01T00:00:00Z',
            size: 4_683_087_332,
            digest: 'sha256:0000000000000000000000000000000000000000000000000000000000000000',
            details: { format: 'gguf', family: 'qwen2', parameter_size: '7.6B', quantization_level: 'Q4_K_M' },
          })),
        });
      }
      if (req.method === 'POST' && path === '/api/chat') {
        const body = JSON.parse(await readBody(req)) as OllamaChatRequest;
        chatRequests.push(body);
        if (!installed(models, body.model) || installed(broken, body.model)) {
          return sendJson(res, 404, { error: `model "${body.model}" not found, try pulling it first` });
        }
        const answer = reply(body);
        const content = typeof answer === 'string' ? answer : JSON.stringify(answer);
        const stats = {
          done_reason: 'stop',
          total_duration: 1_200_000_000,
          load_duration: 100_000_000,
          prompt_eval_count: body.messages.reduce((n, m) => n + Math.ceil(m.content.length / 4), 0),
          prompt_eval_duration: 300_000_000,
          eval_count: Math.ceil(content.length / 4),
          eval_duration: 800_000_000,
        };
        const created_at = () => new Date().toISOString();
        if (body.stream === false) {
          return sendJson(res, 200, {
            model: body.model,
            created_at: created_at(),
            message: { role: 'assistant', content },
            done: true,
            ...stats,
          });
        }
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        for (let i = 0; i < content.length; i += chunkSize) {
          const chunk = {
            model: body.model,
            created_at: created_at(),
            message: { role: 'assistant', content: content.slice(i, i + chunkSize) },
            done: false,
          };
          res.write(`${JSON.stringify(chunk)}\n`);
        }
        res.end(
          `${JSON.stringify({ model: body.model, created_at: created_at(), message: { role: 'assistant', content: '' }, done: true, ...stats })}\n`,
        );
        return;
      }
      sendJson(res, 404, { error: `unknown route ${req.method} ${path}` });
    } catch (error) {
      sendJson(res, 500, { error: error instanceof Error ? error.message : String(error) });
    }
  });

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    chatRequests,
    log,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
