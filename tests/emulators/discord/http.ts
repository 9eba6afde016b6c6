// Request-body parsing and JSON replies for the Discord emulator.
// Multipart goes through busboy: it is what a real server-side parser looks like and it
// tolerates every header style the clients emit.
import type { IncomingMessage, ServerResponse } from 'node:http';
import busboy from 'busboy';

export interface UploadedPart {
  /** form field name as sent, e.g. "files[0]" */
  field: string;
  /** n of "files[n]"/"file[n]", or the order of appearance when the name carries no index */
  index: number;
  filename: string;
  contentType: string;
  bytes: Buffer;
}

export interface ParsedBody {
  kind: 'none' | 'json' | 'multipart' | 'urlencoded' | 'other';
  /** JSON body, or payload_json of a multipart body, or the plain fields when there is no payload_json */
  json: unknown;
  fields: Record<string, string>;
  files: UploadedPart[];
}

export async function readRaw(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function parseBody(req: IncomingMessage): Promise<ParsedBody> {
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (type.startsWith('multipart/form-data')) return parseMultipart(req);
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

function parseMultipart(req: IncomingMessage): Promise<ParsedBody> {
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
          const match = /\[(\d+)\]$/.exec(name);
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
        if (fields.payload_json !== undefined) {
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
    req.pipe(bb);
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
