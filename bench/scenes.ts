// What the presenter adds to a render: the same 30 s, 6-scene plan end to end (queue -> worker ->
// assembly -> storage) without a presenter, and with the built-in character (scene 1 full frame,
// scenes 2-6 in the corner), in one run on the same machine, after an untimed warm-up render.
//   node --import tsx bench/scenes.ts
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stageScenes } from '../agent/nodes/presenter.ts';
import { openStudio } from '../pipeline/studio.ts';
import { handWrittenPlan } from '../tests/e2e/helpers.ts';

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
const dataDir = await mkdtemp(join(tmpdir(), 'spinbot-bench-scenes-'));
const studio = await openStudio({ dataDir });
try {
  const plain = handWrittenPlan(30, 6);
  const presented = stageScenes(plain, { presenter: 'character', motion: false });
  const results: Record<string, number> = {};
  // Untimed: the worker's start-up and first model loads (narration, presenter) are not what is compared.
  await studio.render({ plan: stageScenes(handWrittenPlan(5, 1), { presenter: 'character', motion: false }), requestedBy: { platform: 'test', userId: 'bench' } });
  for (const [name, plan] of [['no presenter', plain], ['built-in presenter in every scene', presented]] as const) {
    const start = process.hrtime.bigint();
    await studio.render({ plan, requestedBy: { platform: 'test', userId: 'bench' } });
    results[name] = seconds(start);
    console.log(`${name}: ${results[name]!.toFixed(2)} s end to end`);
  }
  const added = results['built-in presenter in every scene']! - results['no presenter']!;
  console.log(`presenter adds ${added.toFixed(1)} s for 30 s of presenter video (${(added / 30).toFixed(2)} s per second)`);
} finally {
  await studio.close();
  await rm(dataDir, { recursive: true, force: true });
}
