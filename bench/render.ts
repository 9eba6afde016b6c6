// Renders a 30 s, 6-scene clip end to end (queue -> Python worker -> assembly -> storage) with the
// default CPU backends (Piper, illustrated pictures, Real-ESRGAN, music) and, in the same run, the
// bare ffmpeg encode of the same frames and audio. Prints each stage's compute time (the worker's
// own timings), assembly, the end-to-end time, the ratio end to end / (stage compute + bare encode)
// (goal: at most 1.3) and the worker's peak RSS. Planning is timed separately (the embedded model).
//   npm run bench:render            (add --runs N for more runs; the median is reported)
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { encodeBaseline } from '../media/assemble.ts';
import { openStudio } from '../pipeline/studio.ts';
import { ASSEMBLE_QUEUE } from '../pipeline/render.ts';
import { GPU_QUEUE } from '../gpu-bridge/contracts/index.ts';
import { redisOptions } from '../gpu-bridge/producer.ts';
import { keys } from '../storage/keys.ts';
import { handWrittenPlan } from '../tests/e2e/helpers.ts';
import { createPlanner } from '../bot/planner.ts';
import { loadConfig } from '../bot/config.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, 'skip-plan': { type: 'boolean', default: false } } });
const runs = Number(values.runs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Peak resident memory of a live process (Linux VmHWM), in MB. */
async function peakRssMb(pid: number | undefined): Promise<number | undefined> {
  if (!pid) return undefined;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  return kb ? Number(kb) / 1024 : undefined;
}

const dataDir = await mkdtemp(join(tmpdir(), 'spinbot-bench-'));
const studio = await openStudio({ dataDir });
const connection = redisOptions(studio.services.redisUrl);
const stageQueue = new Queue(GPU_QUEUE, { connection });
const assembleQueue = new Queue(ASSEMBLE_QUEUE, { connection });
console.log(`load average at the start: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
try {
  // The product's defaults: the worker picks Piper for English; music under the voice.
  const plan = { ...handWrittenPlan(30, 6), music: true };
  const rows: { e2e: number; bare: number; stages: Record<string, number>; assembly: number }[] = [];
  for (let run = 0; run < runs; run++) {
    let start = process.hrtime.bigint();
    const clip = await studio.render({ plan, requestedBy: { platform: 'test', userId: 'bench' } });
    const e2e = seconds(start);
    const stages = ((await stageQueue.getJob(clip.jobId))?.returnvalue?.timings ?? {}) as Record<string, number>;
    const assembled = await assembleQueue.getJob(clip.jobId);
    const assembly = assembled?.finishedOn && assembled.processedOn ? (assembled.finishedOn - assembled.processedOn) / 1000 : NaN;

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
    const bare = seconds(start);
    await rm(workDir, { recursive: true, force: true });
    rows.push({ e2e, bare, stages, assembly });
    const stageText = Object.entries(stages).map(([stage, s]) => `${stage} ${s.toFixed(2)} s`).join(', ');
    console.log(`run ${run + 1}: end to end ${e2e.toFixed(2)} s; stages: ${stageText}; assembly ${assembly.toFixed(2)} s; bare encode ${bare.toFixed(2)} s`);
    console.log(`  backends: ${Object.entries(clip.backends).map(([stage, name]) => `${stage}: ${name}`).join('; ')}`);
  }
  const stageNames = [...new Set(rows.flatMap((row) => Object.keys(row.stages)))];
  const compute = rows.map((row) => sum(Object.values(row.stages)));
  const e2e = median(rows.map((row) => row.e2e));
  const bare = median(rows.map((row) => row.bare));
  console.log(`\n30 s clip, 6 scenes, CPU backends (median of ${runs}):`);
  for (const stage of stageNames) console.log(`  stage ${stage}: ${median(rows.map((row) => row.stages[stage] ?? 0)).toFixed(2)} s`);
  console.log(`  assembly (download, ffmpeg, upload): ${median(rows.map((row) => row.assembly)).toFixed(2)} s`);
  console.log(`  end to end (queue + worker stages + assembly + storage): ${e2e.toFixed(2)} s`);
  console.log(`  bare ffmpeg encode of the same frames and audio:          ${bare.toFixed(2)} s`);
  console.log(`  ratio end to end / (stage compute + bare encode): ${median(rows.map((row, i) => row.e2e / (compute[i]! + row.bare))).toFixed(2)} (goal: at most 1.3)`);
  console.log(`  ratio end to end / bare encode: ${(e2e / bare).toFixed(2)}`);
  const rss = await peakRssMb(studio.services.worker?.process.pid);
  console.log(`  worker peak RSS (VmHWM; Piper and ffmpeg run as their own processes): ${rss?.toFixed(0) ?? 'unknown'} MB`);

  if (!values['skip-plan']) {
    const planner = createPlanner(loadConfig({ ...process.env, OLLAMA_BASE_URL: '' }));
    const start = process.hrtime.bigint();
    await planner.plan({ prompt: 'a 30 second explainer about why the sky is blue' });
    console.log(`  planning (${planner.label}, first plan incl. model load): ${seconds(start).toFixed(2)} s`);
  }
} finally {
  await Promise.allSettled([stageQueue.close(), assembleQueue.close()]);
  await studio.close();
  await rm(dataDir, { recursive: true, force: true });
}
console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
process.exit(0);
