// Real S3-protocol servers for the storage tests, each on a free loopback port: s3rver (npm, in
// this process; no multipart, no lifecycle) and moto in server mode (the worker's venv; both).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { REPO_ROOT, freePort } from '../../pipeline/services.ts';
import type { S3Settings } from '../../storage/s3.ts';

export interface S3Server {
  name: string;
  endpoint: string;
  accessKey: string;
  secretKey: string;
  stop(): Promise<void>;
}

export async function startS3rver(): Promise<S3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'spinbot-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  const { port } = await server.run();
  return {
    name: 's3rver',
    endpoint: `http://127.0.0.1:${port}`,
    // s3rver's built-in account: it checks signatures (and link expiry) against this pair.
    accessKey: 'S3RVER',
    secretKey: 'S3RVER',
    stop: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

export async function startMoto(): Promise<S3Server> {
  const port = await freePort();
  const child = spawn(join(REPO_ROOT, '.venv', 'bin', 'python'), ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-2000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000; // a guard for a slow, shared machine; not a timing check
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto server exited before it was ready:\n${output}`);
    try {
      await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(2000) });
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`moto server did not answer on ${endpoint}:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return { name: 'moto', endpoint, accessKey: 'test-access', secretKey: 'test-secret', stop };
}

let buckets = 0;
/** Settings for a fresh bucket on `server`: every test starts empty. */
export function settingsFor(server: S3Server, changes: Partial<S3Settings> = {}): S3Settings {
  return {
    endpoint: server.endpoint,
    accessKey: server.accessKey,
    secretKey: server.secretKey,
    bucket: `spinbot-test-${process.pid}-${++buckets}`,
    region: 'us-east-1',
    partSizeBytes: 5 * 1024 * 1024,
    linkExpirySeconds: 3600,
    ...changes,
  };
}

/** The S3_* variables for the same server and bucket, as an operator would set them. */
export function envFor(server: S3Server, bucket: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    S3_ENDPOINT: server.endpoint,
    S3_ACCESS_KEY: server.accessKey,
    S3_SECRET_KEY: server.secretKey,
    S3_BUCKET: bucket,
    S3_PART_SIZE_MB: '5',
    ...extra,
  };
}
