// The studio the input tests run against, and what "changed nothing" means: the same jobs in every
// queue state and the same files under the data dir (uploads included, wherever storage keeps them).
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStudio, type Studio } from '../../pipeline/studio.ts';

export async function openInputStudio(after: (fn: () => unknown) => void): Promise<{ studio: Studio; dataDir: string }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'spinbot-inputs-'));
  const studio = await openStudio({ dataDir });
  after(async () => {
    await studio.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { studio, dataDir };
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  const files: string[] = [];
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath ?? entry.path, entry.name);
    files.push(`${path.relative(dir, full)} ${(await stat(full)).size}`);
  }
  return files.sort();
}

/** Jobs per queue state, and every file (with its size) under the data dir. */
export async function snapshot(studio: Studio, dataDir: string): Promise<{ jobs: Record<string, number>; files: string[] }> {
  const jobs = await studio.queue.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed', 'waiting-children');
  return { jobs, files: await filesUnder(dataDir) };
}
