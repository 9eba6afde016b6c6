// Acknowledgement latency of the Discord front-end: N concurrent /generate from U users against
// the local Discord emulator. The bot (the real discord.js client, a real studio: redis, the
// Python worker, ffmpeg) runs in its own process, as in production; this process plays Discord
// and measures, per interaction, the time from dispatching INTERACTION_CREATE on the gateway to
// the arrival of the bot's interaction callback (Discord allows 3 s; the target is p99 < 200 ms).
// Prints p50/p90/p99/max; asserts nothing.
//   npx tsx bench/ack-latency.ts [--requests 50] [--users 20] [--runs 3] [--max-running 1] [--bare]
// --bare measures a bare discord.js client that only defers: the floor set by discord.js and the
// emulator on this machine, to compare with.
// Every request is acknowledged: a deferred reply when the job may start, or an immediate private
// refusal (the running-jobs limit); both kinds are reported. The bot is stopped (jobs cancelled)
// after each run.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '50' },
    users: { type: 'string', default: '20' },
    runs: { type: 'string', default: '3' },
    'max-running': { type: 'string', default: '1' },
    serve: { type: 'boolean', default: false },
    /** Baseline: a bare discord.js client that only defers (no studio, no checks, no jobs). */
    bare: { type: 'boolean', default: false },
  },
});

if (values.serve) await serveBot();
else await measure();

/** The bot process: a studio and the Discord front-end, configured by the environment. */
async function serveBot(): Promise<void> {
  if (values.bare) {
    const { Client, Events } = await import('discord.js');
    const client = new Client({ intents: [], rest: { api: process.env.DISCORD_API_URL } });
    client.on(Events.InteractionCreate, (interaction) => {
      if (interaction.isChatInputCommand()) interaction.deferReply().catch(() => {});
    });
    await client.login(process.env.DISCORD_TOKEN);
    process.stdout.write('bot ready\n');
    process.once('SIGTERM', () => void client.destroy().then(() => process.exit(0)));
    return;
  }
  const { openStudio } = await import('../pipeline/studio.ts');
  const { startDiscordFrontEnd } = await import('../bot/discord/front-end.ts');
  const { fakePlanner } = await import('../tests/channel/fixtures.ts');
  const dataDir = await mkdtemp(join(tmpdir(), 'spinbot-bench-ack-'));
  const studio = await openStudio({ dataDir });
  const bot = await startDiscordFrontEnd({ studio, planner: fakePlanner({ seconds: 6 }), config: process.env, log: () => {} });
  process.stdout.write('bot ready\n');
  const stop = async () => {
    await bot.stop();
    await studio.close();
    await rm(dataDir, { recursive: true, force: true });
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function summary(label: string, xs: number[]): string {
  const sorted = [...xs].sort((a, b) => a - b);
  const f = (n: number) => `${Number.isFinite(n) ? n.toFixed(0) : '-'} ms`.padStart(7);
  return `${label.padEnd(24)} n=${String(xs.length).padStart(3)}  p50 ${f(percentile(sorted, 50))}  p90 ${f(percentile(sorted, 90))}  p99 ${f(percentile(sorted, 99))}  max ${f(sorted.at(-1) ?? NaN)}`;
}

function startBotProcess(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', ...(values.bare ? ['--bare'] : [])], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('bot ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`the bot process exited (${code}) before it was ready`)));
  });
}

async function measure(): Promise<void> {
  const { startDiscordEmulator } = await import('../tests/emulators/discord/server.ts');
  const { deployCommands } = await import('../bot/discord/deploy-commands.ts');
  const requests = Number(values.requests);
  const userCount = Number(values.users);
  const runs = Number(values.runs);
  const all: number[] = [];

  for (let run = 1; run <= runs; run++) {
    const emu = await startDiscordEmulator();
    await deployCommands({ token: emu.botToken, applicationId: emu.applicationId, apiUrl: emu.restBase });
    const bot = await startBotProcess({
      DISCORD_TOKEN: emu.botToken,
      DISCORD_API_URL: emu.restBase,
      DISCORD_FILE_HOSTS: `127.0.0.1:${emu.port}`,
      SPINBOT_MAX_RUNNING_JOBS: values['max-running']!,
      SPINBOT_DAILY_JOBS: '0',
    });
    try {
      await emu.waitForReady(30_000);
      const users = Array.from({ length: userCount }, (_, i) => ({ id: `9${run}${String(i).padStart(16, '0')}`, username: `user${i}` }));
      // All at once, like a busy server: dispatch without waiting, then collect every acknowledgement.
      const handles = await Promise.all(
        Array.from({ length: requests }, (_, i) =>
          emu.dispatchInteraction({ commandName: 'generate', options: { prompt: `Bench clip ${run}-${i}` }, user: users[i % userCount] }),
        ),
      );
      const acks = await Promise.all(handles.map((h) => h.ack(10_000)));
      const deferred = acks.filter((a) => a.type === 5).map((a) => a.afterMs);
      const refused = acks.filter((a) => a.type === 4).map((a) => a.afterMs);
      all.push(...acks.map((a) => a.afterMs));
      console.log(`run ${run}: ${requests} concurrent /generate from ${userCount} users`);
      console.log(`  ${summary('deferred (job starts)', deferred)}`);
      console.log(`  ${summary('refused (private reply)', refused)}`);
      console.log(`  ${summary('all acknowledgements', acks.map((a) => a.afterMs))}`);
    } finally {
      const exited = new Promise((resolve) => bot.once('exit', resolve));
      bot.kill('SIGTERM');
      await exited;
      await emu.stop();
    }
  }
  console.log(`\nall runs: ${summary('acknowledgement', all)}`);
  console.log("Discord's limit is 3000 ms; the target is p99 < 200 ms.");
}
