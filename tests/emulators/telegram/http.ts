// Request-body parsing and JSON replies for the Telegram emulator.
// Multipart goes through busboy: grammY writes `filename=name` unquoted and without spaces,
// which Node's Response.formData() rejects but busboy (like the real Bot API server) accepts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import busboy from 'busboy';

export interface UploadedPart {
  /** form field name as sent, e.g. "files[0]" */
  field: string;
  /** order of appearance */
  index: number;
  filename: string;
  contentType: string;
  bytes: Buffer;
}

export interface ParsedBody {
  kind: 'none' | 'json' | 'multipart' | 'urlencoded' | 'other';
  /** JSON body, or the plain fields of urlencoded/multipart bodies */
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

/**
 * grammY writes `filename=<name>` unquoted, so a name with a space ("my clip.mp4") is not a valid
 * header parameter and busboy would drop the part. The real Bot API takes such uploads, so quote
 * the value in every part header before parsing (part bodies are left untouched).
 */
export function quoteUnquotedFilenames(body: Buffer, boundary: string): Buffer {
  const delimiter = Buffer.from(`--${boundary}`);
  const out: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const idx = body.indexOf(delimiter, pos);
    if (idx < 0) {
      out.push(body.subarray(pos));
      break;
    }
    out.push(body.subarray(pos, idx + delimiter.length));
    pos = idx + delimiter.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) continue;
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    if (headerEnd < 0) continue;
    const headers = body.subarray(pos, headerEnd).toString('utf8');
    const fixed = headers.replace(
      /(filename\s*=\s*)([^"\r\n;][^\r\n;]*)/gi,
      (_all, prefix: string, value: string) => `${prefix}"${value.trim().replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`,
    );
    out.push(Buffer.from(fixed, 'utf8'));
    pos = headerEnd;
  }
  return Buffer.concat(out);
}

async function parseMultipart(req: IncomingMessage): Promise<ParsedBody> {
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(req.headers['content-type'] ?? '');
  let body = await readRaw(req);
  if (boundary) body = quoteUnquotedFilenames(body, boundary[1] ?? boundary[2]!);
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
          files.push({
            field: name,
            index: position,
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
        files.sort((a, b) => a.index - b.index);
        resolve({ kind: 'multipart', json: fields, fields, files });
      }, reject);
    });
    bb.end(body);
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
