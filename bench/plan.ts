// Plans everyday prompts of 15-60 s with the embedded model and prints, per plan, the latency,
// model calls, tokens, tokens per second and the script's figures against the acceptance bar
// (words per second 1.6-3.3, distinct narration and pictures, no 5-word phrase in two scenes,
// total within 20% of the length asked, on topic) and whether the plan came with a notice of what is
// still wrong (--show prints it); then the conversation's own calls (routing messages no
// rule decides, rewriting one scene). No assertions.
// Usage: npx tsx bench/plan.ts [--show] [--only N] [--no-plans] [--no-route]
//   --show prints every scene; SPINBOT_MODEL=small, SPINBOT_MODEL_PATH, SPINBOT_LLM_THREADS apply.
import { cpus, loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { revisePlan } from '../agent/conversation/revise.ts';
import { routeIntent } from '../agent/conversation/route.ts';
import { planVideo } from '../agent/graph.ts';
import { disposeEmbeddedModels, EmbeddedChatModel } from '../agent/llm/embedded.ts';
import { createChatModel } from '../agent/llm/index.ts';
import { planFigures } from '../agent/nodes/review.ts';
import { isUserError } from '../pipeline/errors.ts';

/** Everyday requests, 15 to 60 s; tests/agent/embedded.test.ts checks the first two with the small model. */
export const BENCH_PROMPTS: { prompt: string; seconds: number }[] = [
  { prompt: 'an explainer about why the sky is blue', seconds: 20 },
  { prompt: 'how to brew good coffee at home', seconds: 30 },
  { prompt: 'a short history of the bicycle', seconds: 45 },
  { prompt: 'a pitch for a neighbourhood bakery that opens at 6 am', seconds: 15 },
  { prompt: 'three tips for sleeping better', seconds: 30 },
  { prompt: 'a story about a lighthouse keeper who befriends a seagull', seconds: 60 },
  { prompt: 'how volcanoes erupt, for kids', seconds: 25 },
];

/** Messages no rule decides, with the tool a person would pick; the routing table in BENCHMARKS.md. */
export const ROUTE_CASES: { message: string; expected: string; situation: 'none' | 'pending' }[] = [
  { message: 'octopus facts for my nephew, 15 seconds please', expected: 'generate_video', situation: 'none' },
  { message: 'I need something about recycling for my class tomorrow', expected: 'generate_video', situation: 'none' },
  { message: 'tell me a joke about cats', expected: 'chat_reply', situation: 'none' },
  { message: 'what is the weather like where you are?', expected: 'chat_reply', situation: 'none' },
  { message: 'where is that thing I asked for', expected: 'job_status', situation: 'none' },
  { message: 'please quit making that one', expected: 'cancel_job', situation: 'none' },
  { message: 'can you read it in a different voice, which ones are there?', expected: 'list_voices', situation: 'none' },
  { message: 'the bit about milk is wrong, it should say oat milk', expected: 'refine_video', situation: 'pending' },
  { message: 'love it but put a dog in the picture somewhere', expected: 'refine_video', situation: 'pending' },
  { message: 'how do I use this thing?', expected: 'show_help', situation: 'none' },
];


const fixed = (n: number, digits = 1) => n.toFixed(digits);

async function main(): Promise<void> {
  const { values: flags } = parseArgs({
    options: { show: { type: 'boolean' }, only: { type: 'string' }, 'no-plans': { type: 'boolean' }, 'no-route': { type: 'boolean' } },
  });
  const env = { ...process.env, OLLAMA_BASE_URL: '' }; // always the embedded model
  const llm = createChatModel(env);
  const model = llm.model;
  if (!(model instanceof EmbeddedChatModel)) throw new Error('expected the embedded model');
  const statsSince = (before: typeof model.stats) => {
    const out = model.stats.outputTokens - before.outputTokens;
    const genS = (model.stats.generationMs - before.generationMs) / 1000;
    return { calls: model.stats.calls - before.calls, out, genS, tps: genS > 0 ? out / genS : 0 };
  };

  console.log(`model: ${llm.label}${llm.note ? ` (${llm.note})` : ''}  (${cpus().length} CPUs, load average ${loadavg().map((n) => fixed(n)).join(' ')})`);
  try {
    const loadStarted = performance.now();
    await llm.ready();
    console.log(`load: ${fixed((performance.now() - loadStarted) / 1000)} s`);

    if (!flags['no-plans']) {
      console.log('\nprompt                                          asked  total s  calls  out tok  tok/s   w/s  distinct  5-word repeats  planned s  topic  notice');
      const cases = flags.only ? [BENCH_PROMPTS[Number(flags.only)]!] : BENCH_PROMPTS;
      for (const { prompt, seconds } of cases) {
        const before = { ...model.stats };
        const started = performance.now();
        let row: string;
        let shown = '';
        try {
          const plan = await planVideo({ prompt, seconds }, llm);
          const f = planFigures(plan, prompt);
          const distinct = `${f.distinctNarration ? 'yes' : 'NO'}/${f.distinctPictures ? 'yes' : 'NO'}`;
          row = `${fixed(f.wordsPerSecond, 2).padStart(5)}  ${distinct.padStart(8)}  ${String(f.repeatedPhrases.length).padStart(14)}  ${String(f.seconds).padStart(9)}  ${(f.onTopic ? 'yes' : 'NO').padStart(5)}  ${plan.notice ? 'yes' : 'no'}`;
          shown = `  "${plan.title}"\n${plan.scenes.map((s, i) => `  ${i + 1}. (${s.seconds} s) ${s.narration}\n       picture: ${s.visualPrompt} | caption: ${s.onScreenText}`).join('\n')}${plan.notice ? `\n  notice: ${plan.notice}` : ''}`;
        } catch (error) {
          row = isUserError(error) ? `UserError ${error.id}: ${error.message} (${String((error as Error).cause ?? '')})` : `error: ${String(error)}`;
        }
        const totalS = (performance.now() - started) / 1000;
        const s = statsSince(before);
        console.log(`${prompt.slice(0, 46).padEnd(46)} ${String(seconds).padStart(6)}  ${fixed(totalS).padStart(7)}  ${String(s.calls).padStart(5)}  ${String(s.out).padStart(7)}  ${fixed(s.tps).padStart(5)}  ${row}`);
        if (flags.show && shown) console.log(shown);
      }
    }

    if (!flags['no-route']) {
      // The conversation's own model calls: routing messages no rule decides, and rewriting one scene.
      const base = await planVideo({ prompt: 'how to make oat milk latte at home', seconds: 20 }, llm);
      const pendingSituation = { pending: { plan: base, request: { prompt: 'how to make oat milk latte at home', seconds: 20 } }, lastJob: null };
      console.log('\nrouting (no rule applies)                                 total s  answer            right?');
      let right = 0;
      for (const { message, expected, situation } of ROUTE_CASES) {
        const started = performance.now();
        const intent = await routeIntent(message, situation === 'pending' ? (pendingSituation as never) : { pending: null, lastJob: null }, [], llm);
        const totalS = (performance.now() - started) / 1000;
        if (intent.tool === expected) right++;
        console.log(`${message.slice(0, 56).padEnd(56)} ${fixed(totalS).padStart(7)}  ${`${intent.tool} (${intent.via})`.padEnd(17)} ${intent.tool === expected ? 'yes' : `no (${expected})`}`);
      }
      console.log(`routing: ${right} of ${ROUTE_CASES.length} right`);
      const before = { ...model.stats };
      const started = performance.now();
      const revision = await revisePlan({ plan: base, request: { prompt: 'how to make oat milk latte at home', seconds: 20 } }, 'redo scene 2 with a sunset', 2, { ...llm, plan: (r) => planVideo(r, llm) });
      const s = statsSince(before);
      console.log(`revise "redo scene 2 with a sunset": ${fixed((performance.now() - started) / 1000)} s, ${s.calls} call(s); scene 2 now: ${revision.plan.scenes[1]!.narration} | ${revision.plan.scenes[1]!.visualPrompt}`);
    }

    const s = model.stats;
    const writingMs = s.generationMs - s.promptMs;
    console.log(`\nall: ${s.calls} calls, ${s.promptTokens} prompt tokens (approx.), ${s.outputTokens} output tokens in ${fixed(s.generationMs / 1000)} s = ${fixed((s.outputTokens / s.generationMs) * 1000)} tok/s (${fixed(s.promptMs / 1000)} s reading prompts, then ${fixed((s.outputTokens / writingMs) * 1000)} tok/s writing)`);
  } finally {
    await disposeEmbeddedModels();
  }
}

// Run as a script only: the test imports the prompts.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
