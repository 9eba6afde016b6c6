// Request-body parsing and JSON replies shared by the Discord and Telegram emulators.
// Multipart goes through busboy: it is what a real server-side parser looks like and it
// tolerates every header style the clients emit.
import type { IncomingMessage, ServerResponse } from 'node:http';
import busboy from 'busboy';

export interface UploadedPart {
  /** form field name as sent, e.g. "files[0]" */
  field: string;
  /** n of "files[n]" with `indexFromField`, otherwise (or when the name has no index) the order of appearance */
  index: number;
  filename: string;
  contentType: string;
  bytes: Buffer;
}

export interface ParsedBody {
  kind: 'none' | 'json' | 'multipart' | 'urlencoded' | 'other';
  /** JSON body, payload_json of a multipart body with `payloadJson`, or else the plain fields */
  json: unknown;
  fields: Record<string, string>;
  files: UploadedPart[];
}

/** The per-platform differences in how multipart bodies are read. */
export interface MultipartOptions {
  /** Discord: a part named "files[n]" goes to index n */
  indexFromField?: boolean;
  /** Discord: the payload_json field, when present, is the JSON body */
  payloadJson?: boolean;
  /** Telegram: fix the raw body before busboy sees it (buffers the whole body first) */
  rewrite?: (body: Buffer, boundary: string) => Buffer;
}

export async function readRaw(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function parseBody(req: IncomingMessage, options: MultipartOptions = {}): Promise<ParsedBody> {
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (type.startsWith('multipart/form-data')) return parseMultipart(req, options);
  const raw = await readRaw(req);
  if (raw.length === 0) return { kind: 'none', json: undefined, fields: {}, files: [] };
  if (type.startsWith('application/json')) {
    return { kind: 'json', json: JSON.parse(raw.toString('utf8')), fields: {}, files: [] };
  }
  if (type.startsWith('application/x-www-form-urlencoded')) {
    const fields = Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
    return { kind: 'urlencoded', json: fields, fields, files: [] };
  }
  return { kind: 'other', json: undefined, fields: {}, files: [] };
}

async function parseMultipart(req: IncomingMessage, options: MultipartOptions): Promise<ParsedBody> {
  let body: Buffer | undefined;
  if (options.rewrite) {
    const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(req.headers['content-type'] ?? '');
    body = await readRaw(req);
    if (boundary) body = options.rewrite(body, boundary[1] ?? boundary[2]!);
  }
  return new Promise((resolve, reject) => {
    const fields: Record<string, string> = {};
    const files: UploadedPart[] = [];
    const pending: Promise<void>[] = [];
    let order = 0;
    const bb = busboy({
      headers: req.headers,
      defParamCharset: 'utf8',
      limits: { fieldSize: 64 * 1024 * 1024, fileSize: 1024 * 1024 * 1024 },
    });
    bb.on('field', (name, value) => {
      fields[name] = value;
    });
    bb.on('file', (name, stream, info) => {
      const position = order++;
      pending.push(
        (async () => {
          const chunks: Buffer[] = [];
          for await (const chunk of stream) chunks.push(chunk as Buffer);
          const match = options.indexFromField ? /\[(\d+)\]$/.exec(name) : null;
          files.push({
            field: name,
            index: match ? Number(match[1]) : position,
            filename: info.filename ?? name,
            contentType: info.mimeType || 'application/octet-stream',
            bytes: Buffer.concat(chunks),
          });
        })(),
      );
    });
    bb.on('error', reject);
    bb.on('close', () => {
      Promise.all(pending).then(() => {
        let json: unknown = fields;
        if (options.payloadJson && fields.payload_json !== undefined) {
          try {
            json = JSON.parse(fields.payload_json);
          } catch (err) {
            reject(err);
            return;
          }
        }
        files.sort((a, b) => a.index - b.index);
        resolve({ kind: 'multipart', json, fields, files });
      }, reject);
    });
    if (body) bb.end(body);
    else req.pipe(bb);
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (status === 204) {
    res.writeHead(204, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text).toString(),
    ...headers,
  });
  res.end(text);
}
