// How quickly the processes `npm start` depends on come back and go away (pipeline/services.ts):
// the worker and the private redis-server started, each SIGKILLed and restarted by the supervisor
// (time from the kill to the new process being ready), and the ordered stop. Prints figures;
// asserts nothing.
//   npx tsx bench/supervision.ts [--runs 5]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startServices, type SupervisionEvent } from '../pipeline/services.ts';
import { livePidFromFile } from '../pipeline/supervisor.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Number(values.runs);
const dir = await mkdtemp(join(tmpdir(), 'spinbot-bench-supervision-'));
const figures: Record<string, number[]> = { start: [], 'worker back': [], 'redis back': [], stop: [] };
const quiet = () => {};

for (let run = 0; run < runs; run++) {
  let started = performance.now();
  const services = await startServices({ dataDir: join(dir, 'data'), stateDir: join(dir, `state-${run}`), log: quiet });
  figures.start!.push(performance.now() - started);
  const restarted = (process: string) =>
    new Promise<void>((resolve) => {
      const off = services.onSupervision((event: SupervisionEvent) => {
        if (event.process === process && event.kind === 'restarted') {
          off();
          resolve();
        }
      });
    });
  const killAndWait = async (name: string, pid: number) => {
    started = performance.now();
    const back = restarted(name);
    process.kill(pid, 'SIGKILL');
    await back;
    figures[`${name} back`]!.push(performance.now() - started);
  };
  await killAndWait('worker', services.worker!.process.pid!);
  await killAndWait('redis', livePidFromFile(join(dir, `state-${run}`, 'redis', 'spinbot-redis.pid'))!);
  started = performance.now();
  await services.stop();
  figures.stop!.push(performance.now() - started);
}
await rm(dir, { recursive: true, force: true });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`supervision on this machine, ${runs} runs (median / max, ms):`);
for (const [name, xs] of Object.entries(figures)) console.log(`  ${name.padEnd(12)} ${median(xs).toFixed(0).padStart(6)} / ${Math.max(...xs).toFixed(0)}`);
console.log('  (worker back and redis back include the 0.5 s restart delay)');
