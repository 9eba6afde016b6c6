// Telegram-only multipart fix-up, passed to the shared parser (../shared/http.ts) as `rewrite`.
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
