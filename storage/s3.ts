// Object storage (S3, MinIO) behind the same Storage interface as the filesystem, so that the bot and
// the worker can run on different hosts. Objects are private (no bucket policy is ever set); users
// get time-limited presigned links.
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { Client, type BucketItem, type LifecycleConfig, type LifecycleRule } from 'minio';
import { assertValidKey, type PutOptions, type Storage, type StoredObject } from './index.ts';
import { INTERMEDIATE_TAG, contentTypeFor, isIntermediate } from './keys.ts';

export interface S3Settings {
  /** http(s)://host[:port] of the S3 API, as this process reaches it. */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region: string;
  /** The endpoint users reach, for presigned links (e.g. a public MinIO hostname); default `endpoint`. */
  publicEndpoint?: string;
  /** Objects larger than this go up in parts of this size (at least 5 MiB, an S3 rule). */
  partSizeBytes: number;
  /** Lifetime of a link() when the caller gives none. */
  linkExpirySeconds: number;
}

/** The lifecycle rule this project owns; other rules in the bucket are left alone. */
export const INTERMEDIATE_RULE_ID = 'spinbot-expire-intermediates';
const MAX_LINK_SECONDS = 7 * 24 * 3600; // SigV4 presigned URLs cannot live longer

function clientFor(endpoint: string, settings: S3Settings, agent: HttpAgent): Client {
  const url = new URL(endpoint);
  const useSSL = url.protocol === 'https:';
  return new Client({
    endPoint: url.hostname,
    port: url.port ? Number(url.port) : useSSL ? 443 : 80,
    useSSL,
    accessKey: settings.accessKey,
    secretKey: settings.secretKey,
    // A fixed region: no bucket-location lookups, and links can be signed without a request.
    region: settings.region,
    // MinIO and most self-hosted servers have no per-bucket DNS names.
    pathStyle: true,
    partSize: settings.partSizeBytes,
    transportAgent: agent,
  });
}

function isMissing(error: unknown): boolean {
  const code = (error as { code?: string })?.code;
  return code === 'NotFound' || code === 'NoSuchKey';
}

/** The bytes of `source` in pieces of exactly `size` (the last may be shorter). */
async function* inParts(source: AsyncIterable<Buffer | string> | Iterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let length = 0;
  for await (const raw of source) {
    let chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
    while (length + chunk.length >= size) {
      const take = size - length;
      pending.push(chunk.subarray(0, take));
      yield Buffer.concat(pending);
      pending = [];
      length = 0;
      chunk = chunk.subarray(take);
    }
    if (chunk.length) {
      pending.push(chunk);
      length += chunk.length;
    }
  }
  if (length) yield Buffer.concat(pending);
}

export class S3Storage implements Storage {
  readonly client: Client;
  readonly bucket: string;
  private readonly linkClient: Client;
  private readonly agent: HttpAgent;

  constructor(private readonly settings: S3Settings) {
    this.bucket = settings.bucket;
    this.agent = new URL(settings.endpoint).protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.client = clientFor(settings.endpoint, settings, this.agent);
    // Signing is offline: a client for the public name only ever signs, it never connects.
    this.linkClient = settings.publicEndpoint ? clientFor(settings.publicEndpoint, settings, this.agent) : this.client;
  }

  /** Connects and creates the bucket when it is missing. */
  static async open(settings: S3Settings): Promise<S3Storage> {
    const storage = new S3Storage(settings);
    try {
      await storage.ensureBucket();
    } catch (error) {
      storage.close();
      throw error;
    }
    return storage;
  }

  /** For logs: where the objects are, without credentials. */
  describe(): string {
    return `s3 ${new URL(this.settings.endpoint).origin} bucket ${this.bucket}`;
  }

  close(): void {
    this.agent.destroy();
  }

  private async ensureBucket(): Promise<void> {
    if (await this.client.bucketExists(this.bucket)) return;
    try {
      await this.client.makeBucket(this.bucket, this.settings.region);
    } catch (error) {
      // Another process (the worker) may have created it a moment ago.
      if (!(await this.client.bucketExists(this.bucket))) throw error;
    }
  }

  async put(key: string, body: Buffer | Readable | { file: string }, options?: PutOptions): Promise<StoredObject> {
    assertValidKey(key);
    const headers = { 'Content-Type': options?.contentType ?? contentTypeFor(key) };
    if (Buffer.isBuffer(body) && body.length <= this.settings.partSizeBytes) {
      await this.client.putObject(this.bucket, key, body, body.length, headers);
    } else {
      await this.putInParts(key, Buffer.isBuffer(body) ? [body] : body instanceof Readable ? body : createReadStream(body.file), headers);
    }
    // The minio client cannot send x-amz-tagging with a PUT; intermediates are tagged right after
    // (only the worker writes them in practice, and boto3 tags in the same request).
    if (isIntermediate(key)) await this.client.setObjectTagging(this.bucket, key, { [INTERMEDIATE_TAG.key]: INTERMEDIATE_TAG.value });
    const stored = await this.stat(key);
    if (!stored) throw new Error(`The object ${key} was stored but cannot be found`);
    return stored;
  }

  /**
   * Up to one part: a single PUT (every S3 server takes it). More: a multipart upload, one part in
   * flight at a time, so memory stays at about two parts whatever the size. Our own loop rather than
   * the client's putObject(stream): that one hangs when the source stream fails, and it resumes
   * any earlier unfinished upload of the key; here a failure aborts the upload (no orphaned parts).
   */
  private async putInParts(key: string, source: AsyncIterable<Buffer | string> | Iterable<Buffer>, headers: Record<string, string>): Promise<void> {
    const parts = inParts(source, this.settings.partSizeBytes)[Symbol.asyncIterator]();
    const first = await parts.next();
    const second = first.done ? first : await parts.next();
    if (second.done) {
      const whole = first.done ? Buffer.alloc(0) : first.value;
      await this.client.putObject(this.bucket, key, whole, whole.length, headers);
      return;
    }
    const uploadId = await this.client.initiateNewMultipartUpload(this.bucket, key, headers);
    try {
      const done: { part: number; etag: string }[] = [];
      const upload = async (part: Buffer) => {
        const partNumber = done.length + 1;
        const md5 = createHash('md5').update(part).digest('base64');
        const { etag } = await this.client.uploadPart(
          { bucketName: this.bucket, objectName: key, uploadID: uploadId, partNumber, headers: { 'Content-MD5': md5 } },
          part,
        );
        done.push({ part: partNumber, etag });
      };
      await upload(first.value!);
      await upload(second.value);
      for (let next = await parts.next(); !next.done; next = await parts.next()) await upload(next.value);
      await this.client.completeMultipartUpload(this.bucket, key, uploadId, done);
    } catch (error) {
      await this.client.abortMultipartUpload(this.bucket, key, uploadId).catch(() => {});
      throw error;
    }
  }

  async get(key: string): Promise<Buffer> {
    assertValidKey(key);
    const chunks: Buffer[] = [];
    for await (const chunk of await this.client.getObject(this.bucket, key)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async getToFile(key: string, path: string): Promise<void> {
    assertValidKey(key);
    await mkdir(dirname(path), { recursive: true });
    await this.client.fGetObject(this.bucket, key, path);
  }

  async stat(key: string): Promise<StoredObject | null> {
    assertValidKey(key);
    try {
      const info = await this.client.statObject(this.bucket, key);
      const contentType = (info.metaData as Record<string, string> | undefined)?.['content-type'];
      return { key, bytes: info.size, modified: info.lastModified, ...(contentType ? { contentType } : {}) };
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    if (prefix.startsWith('/') || prefix.includes('..')) throw new Error(`Invalid storage prefix: ${JSON.stringify(prefix)}`);
    const found: StoredObject[] = [];
    const stream = this.client.listObjectsV2(this.bucket, prefix, true);
    for await (const item of stream as AsyncIterable<BucketItem>) {
      if (item.name) found.push({ key: item.name, bytes: item.size, modified: item.lastModified ?? new Date(0) });
    }
    // Same order as the filesystem storage, not S3's byte order.
    return found.sort((a, b) => a.key.localeCompare(b.key));
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    await this.client.removeObject(this.bucket, key); // S3 answers 204 for a missing key too
  }

  async deletePrefix(prefix: string): Promise<number> {
    const objects = await this.list(prefix);
    if (objects.length === 0) return 0;
    const errors = await this.client.removeObjects(this.bucket, objects.map((o) => o.key));
    const failed = (errors as unknown[]).flat(2).filter((e) => e && typeof e === 'object' && 'Code' in e) as Array<{ Key?: string; Code?: string }>;
    if (failed.length) throw new Error(`Could not delete ${failed.length} object(s) under ${prefix}, e.g. ${failed[0]!.Key} (${failed[0]!.Code})`);
    return objects.length;
  }

  /** A presigned GET link that stops working after `expiresSeconds` (default from settings). */
  async link(key: string, options?: { expiresSeconds?: number }): Promise<string> {
    if (!(await this.stat(key))) throw new Error(`No stored object at ${key}`);
    const seconds = Math.round(options?.expiresSeconds ?? this.settings.linkExpirySeconds);
    if (!(seconds >= 1 && seconds <= MAX_LINK_SECONDS)) throw new Error(`A link lives 1 s to 7 days, not ${seconds} s`);
    return this.linkClient.presignedGetObject(this.bucket, key, seconds);
  }

  /**
   * Installs (days > 0) or removes (0) the rule that expires job intermediates `days` days after
   * they were written. Finals live beside intermediates (jobs/<id>/final.mp4), so a prefix alone
   * cannot tell them apart, and S3 filters cannot exclude a key: the rule matches prefix jobs/ AND
   * the tag spinbot-kind=intermediate, which only intermediates carry. Keys stay as they are.
   */
  async setIntermediateExpiry(days: number): Promise<void> {
    if (!Number.isInteger(days) || days < 0) throw new Error(`Intermediate expiry must be a whole number of days, not ${days}`);
    let current: LifecycleRule[];
    try {
      current = await this.lifecycle();
    } catch (error) {
      if ((error as { code?: string })?.code !== 'NotImplemented') throw error;
      // A server without lifecycle rules (some S3-compatible stores) cannot hold a rule of ours to
      // remove, and cannot expire anything: fine when nothing should expire, a clear stop otherwise.
      if (days === 0) return;
      throw new Error(
        `The S3 server at ${this.settings.endpoint} does not support bucket lifecycle rules, so job intermediates cannot expire after ${days} days there. Set S3_INTERMEDIATE_DAYS=0 (and clear old jobs/ yourself) or use a server with lifecycle rules (MinIO, AWS S3).`,
        { cause: error },
      );
    }
    const others = current.filter((rule) => rule.ID !== INTERMEDIATE_RULE_ID);
    const ours = {
      ID: INTERMEDIATE_RULE_ID,
      Status: 'Enabled',
      // The XML needs <And><Prefix/><Tag/></And>; minio's type names the list `Tags`.
      Filter: { And: { Prefix: 'jobs/', Tag: [{ Key: INTERMEDIATE_TAG.key, Value: INTERMEDIATE_TAG.value }] } },
      Expiration: { Days: days },
    } as unknown as LifecycleRule;
    const rules = days > 0 ? [...others, ours] : others;
    if (rules.length === 0) {
      if (current.length) await this.client.removeBucketLifecycle(this.bucket);
      return;
    }
    await this.client.setBucketLifecycle(this.bucket, { Rule: rules });
  }

  /** The bucket's lifecycle rules (none: []). */
  async lifecycle(): Promise<LifecycleRule[]> {
    let config: LifecycleConfig | null;
    try {
      config = await this.client.getBucketLifecycle(this.bucket);
    } catch (error) {
      if ((error as { code?: string })?.code === 'NoSuchLifecycleConfiguration') return [];
      throw error;
    }
    const rules = config?.Rule as LifecycleRule | LifecycleRule[] | undefined;
    return rules === undefined ? [] : Array.isArray(rules) ? rules : [rules];
  }
}
