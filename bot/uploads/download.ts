// Fetching a user's upload from a platform's file host: the size is checked before anything is
// downloaded (platforms declare it), only the configured hosts are contacted, and the download is
// cut off the moment it grows past the limit whatever the declared size said.
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { recordUploadRejection, type UploadRejectionReason } from '../../metrics/index.ts';
import { UserError } from '../../pipeline/errors.ts';

export interface UploadSource {
  url: string;
  /** The size the platform declared, checked before downloading. */
  declaredBytes?: number;
  /** What the user called it (only for messages; never used to decide what it is). */
  name?: string;
}

export interface DownloadPolicy {
  /** Host names (or host:port) files may come from. */
  allowedHosts: string[];
  maxBytes: number;
  timeoutMs?: number;
}

export function formatMegabytes(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  return `${mb >= 10 ? Math.round(mb) : mb.toFixed(1)} MB`;
}

export function tooLarge(bytes: number, maxBytes: number): UserError {
  return new UserError(
    'upload.tooLarge',
    `That file is ${formatMegabytes(bytes)}; the limit is ${formatMegabytes(maxBytes)}. Send a shorter or smaller file (a voice sample needs only 3-30 s).`,
  );
}

/** Counts the refusal (spinbot_upload_rejections_total) and returns the error to throw. */
export function rejected(reason: UploadRejectionReason, error: UserError): UserError {
  recordUploadRejection(reason);
  return error;
}

/** Refuses before any download when the declared size is over the limit. */
export function checkDeclaredSize(source: UploadSource, policy: Pick<DownloadPolicy, 'maxBytes'>): void {
  if (source.declaredBytes !== undefined && source.declaredBytes > policy.maxBytes) throw rejected('too_large', tooLarge(source.declaredBytes, policy.maxBytes));
}

export function isAllowedHost(url: URL, allowedHosts: string[]): boolean {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
  return allowedHosts.some((host) => host.toLowerCase() === url.host.toLowerCase() || host.toLowerCase() === url.hostname.toLowerCase());
}

/** Downloads into `path`; returns the byte count. Removes the partial file on any failure. */
export async function downloadUpload(source: UploadSource, path: string, policy: DownloadPolicy): Promise<number> {
  checkDeclaredSize(source, policy);
  let url: URL;
  try {
    url = new URL(source.url);
  } catch {
    throw rejected('forbidden_host', new UserError('upload.forbiddenHost', 'That attachment has no usable address; upload it again.'));
  }
  if (!isAllowedHost(url, policy.allowedHosts)) {
    throw rejected('forbidden_host', new UserError('upload.forbiddenHost', `I only download attachments from the platform's own file host, not from ${url.hostname}.`));
  }
  const signal = AbortSignal.timeout(policy.timeoutMs ?? 60_000);
  let response: Response;
  try {
    response = await fetch(url, { signal, redirect: 'error' });
  } catch (error) {
    throw rejected('download_failed', new UserError('upload.failed', 'I could not download that file from the platform; please send it again.', { cause: error }));
  }
  if (!response.ok || !response.body) {
    throw rejected('download_failed', new UserError('upload.failed', `I could not download that file (the platform answered ${response.status}); please send it again.`));
  }
  const announced = Number(response.headers.get('content-length') ?? NaN);
  if (Number.isFinite(announced) && announced > policy.maxBytes) {
    await response.body.cancel().catch(() => {});
    throw rejected('too_large', tooLarge(announced, policy.maxBytes));
  }
  const out = createWriteStream(path);
  let bytes = 0;
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += chunk.byteLength;
      if (bytes > policy.maxBytes) throw rejected('too_large', tooLarge(bytes, policy.maxBytes));
      if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
    await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
    return bytes;
  } catch (error) {
    out.destroy();
    await rm(path, { force: true });
    if (error instanceof Error && error.name === 'UserError') throw error;
    throw rejected('download_failed', new UserError('upload.failed', 'The download of that file broke off; please send it again.', { cause: error }));
  }
}
