// Which storage a process uses: the filesystem under the data folder by default, object storage
// (S3, MinIO) when S3_ENDPOINT is set. Validated once, with zod; secrets are never echoed.
import { z } from 'zod';
import { FsStorage } from './fs.ts';
import type { Storage } from './index.ts';
import { S3Storage, type S3Settings } from './s3.ts';

/** Every variable the storage reads; the worker gets the same ones, so both pick the same store. */
export const STORAGE_ENV_NAMES = [
  'S3_ENDPOINT',
  'S3_ACCESS_KEY',
  'S3_SECRET_KEY',
  'S3_BUCKET',
  'S3_REGION',
  'S3_PUBLIC_ENDPOINT',
  'S3_PART_SIZE_MB',
  'S3_LINK_EXPIRY_SECONDS',
  'S3_INTERMEDIATE_DAYS',
] as const;

type Env = Record<string, string | undefined>;
const unsetIfEmpty = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const httpUrl = (name: string) =>
  z.url({ protocol: /^https?$/, error: `${name} must be an http:// or https:// URL such as http://minio:9000` }).refine(
    (v) => ['', '/'].includes(new URL(v).pathname) && !new URL(v).username,
    `${name} must be scheme, host and port only (no path, no credentials)`,
  );
const wholeNumber = (name: string, min: number, max: number, fallback: number) =>
  z.preprocess(
    unsetIfEmpty,
    z.coerce
      .number({ error: `${name} must be a whole number` })
      .int(`${name} must be a whole number`)
      .min(min, `${name} must be at least ${min}`)
      .max(max, `${name} must be at most ${max}`)
      .default(fallback),
  );

const S3Env = z.object({
  S3_ENDPOINT: httpUrl('S3_ENDPOINT'),
  S3_ACCESS_KEY: z.preprocess(unsetIfEmpty, z.string({ error: 'S3_ACCESS_KEY is required when S3_ENDPOINT is set' })),
  // Never echo the value: zod's messages here name the variable only.
  S3_SECRET_KEY: z.preprocess(unsetIfEmpty, z.string({ error: 'S3_SECRET_KEY is required when S3_ENDPOINT is set' })),
  S3_BUCKET: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .regex(/^(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'S3_BUCKET must be 3-63 lowercase letters, digits, dots or hyphens')
      .default('spinbot'),
  ),
  S3_REGION: z.preprocess(unsetIfEmpty, z.string().regex(/^[a-z0-9-]{2,32}$/, 'S3_REGION must look like us-east-1').default('us-east-1')),
  S3_PUBLIC_ENDPOINT: z.preprocess(unsetIfEmpty, httpUrl('S3_PUBLIC_ENDPOINT').optional()),
  S3_PART_SIZE_MB: wholeNumber('S3_PART_SIZE_MB', 5, 5120, 16),
  S3_LINK_EXPIRY_SECONDS: wholeNumber('S3_LINK_EXPIRY_SECONDS', 1, 7 * 24 * 3600, 24 * 3600),
  S3_INTERMEDIATE_DAYS: wholeNumber('S3_INTERMEDIATE_DAYS', 0, 3650, 7),
});

export type StorageChoice =
  | { kind: 'fs'; dataDir: string }
  | { kind: 's3'; settings: S3Settings; intermediateDays: number };

/** Reads the storage variables; throws one Error naming every bad variable (never a secret). */
export function storageChoice(env: Env, options: { dataDir: string }): StorageChoice {
  if (!env.S3_ENDPOINT?.trim()) return { kind: 'fs', dataDir: options.dataDir };
  const parsed = S3Env.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => issue.message).join('; ');
    throw new Error(`Invalid storage configuration: ${problems}`, { cause: parsed.error });
  }
  const v = parsed.data;
  return {
    kind: 's3',
    settings: {
      endpoint: v.S3_ENDPOINT,
      accessKey: v.S3_ACCESS_KEY,
      secretKey: v.S3_SECRET_KEY,
      bucket: v.S3_BUCKET,
      region: v.S3_REGION,
      publicEndpoint: v.S3_PUBLIC_ENDPOINT,
      partSizeBytes: v.S3_PART_SIZE_MB * 1024 * 1024,
      linkExpirySeconds: v.S3_LINK_EXPIRY_SECONDS,
    },
    intermediateDays: v.S3_INTERMEDIATE_DAYS,
  };
}

/**
 * The storage this process uses. With S3 it also creates the bucket when missing and installs
 * (or, with S3_INTERMEDIATE_DAYS=0, removes) the rule that expires job intermediates.
 */
export async function createStorage(env: Env, options: { dataDir: string }): Promise<Storage> {
  const choice = storageChoice(env, options);
  if (choice.kind === 'fs') return new FsStorage(choice.dataDir);
  const storage = await S3Storage.open(choice.settings);
  try {
    await storage.setIntermediateExpiry(choice.intermediateDays);
  } catch (error) {
    storage.close();
    throw error;
  }
  return storage;
}

/**
 * The storage variables for a child process (the worker), unset ones as '' so that the child
 * cannot inherit a different choice from its own environment.
 */
export function storageEnvFor(env: Env): Record<string, string> {
  return Object.fromEntries(STORAGE_ENV_NAMES.map((name) => [name, env[name] ?? '']));
}
