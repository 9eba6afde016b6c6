// Renders a 30 s, 6-scene clip end to end (queue -> Python worker -> assembly -> storage) and, in
// the same run, the bare ffmpeg encode of the same frames and audio; prints both times and their
// ratio. Planning is timed separately (the embedded model), since it does not scale with length.
//   npm run bench:render            (add --runs N for more runs; the median is reported)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeBaseline } from '../media/assemble.ts';
import { openStudio } from '../pipeline/studio.ts';
import { keys } from '../storage/keys.ts';
import { handWrittenPlan } from '../tests/e2e/helpers.ts';
import { createPlanner } from '../bot/planner.ts';
import { loadConfig } from '../bot/config.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, 'skip-plan': { type: 'boolean', default: false } } });
const runs = Number(values.runs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;

const dataDir = await mkdtemp(join(tmpdir(), 'spinbot-bench-'));
const studio = await openStudio({ dataDir });
try {
  const plan = handWrittenPlan(30, 6);
  const endToEnd: number[] = [];
  const baseline: number[] = [];
  for (let run = 0; run < runs; run++) {
    let start = process.hrtime.bigint();
    const clip = await studio.render({ plan, requestedBy: { platform: 'test', userId: 'bench' } });
    endToEnd.push(seconds(start));

    // The same inputs as local files (the store may be S3), copied before the clock starts.
    const workDir = await mkdtemp(join(tmpdir(), 'spinbot-bench-base-'));
    const scenes = await Promise.all(
      plan.scenes.map(async (scene, index) => {
        const imagePath = join(workDir, `scene-${index}.png`);
        const audioPath = join(workDir, `scene-${index}.wav`);
        await studio.storage.getToFile(keys.sceneImage(clip.jobId, index), imagePath);
        await studio.storage.getToFile(keys.sceneAudio(clip.jobId, index), audioPath);
        return { imagePath, audioPath, seconds: scene.seconds, narration: scene.narration };
      }),
    );
    start = process.hrtime.bigint();
    await encodeBaseline({ scenes, outPath: join(workDir, 'baseline.mp4'), workDir });
    baseline.push(seconds(start));
    await rm(workDir, { recursive: true, force: true });
    console.log(`run ${run + 1}: end to end ${endToEnd.at(-1)!.toFixed(2)} s, bare encode ${baseline.at(-1)!.toFixed(2)} s`);
  }
  const e2e = median(endToEnd);
  const bare = median(baseline);
  console.log(`\n30 s clip, 6 scenes, CPU backends (median of ${runs}):`);
  console.log(`  end to end (queue + worker stages + assembly + storage): ${e2e.toFixed(2)} s`);
  console.log(`  bare ffmpeg encode of the same frames and audio:          ${bare.toFixed(2)} s`);
  console.log(`  ratio: ${(e2e / bare).toFixed(2)} (goal: at most 1.5)`);

  if (!values['skip-plan']) {
    const planner = createPlanner(loadConfig({ ...process.env, OLLAMA_BASE_URL: '' }));
    const start = process.hrtime.bigint();
    await planner.plan({ prompt: 'a 30 second explainer about why the sky is blue' });
    console.log(`  planning (${planner.label}, first plan incl. model load): ${seconds(start).toFixed(2)} s`);
  }
} finally {
  await studio.close();
  await rm(dataDir, { recursive: true, force: true });
}
process.exit(0);
