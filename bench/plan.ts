// Plans three prompts with the embedded model and prints the figures: model load time, then per
// plan the latency, model calls, tokens and tokens per second; then the conversation's own calls
// (routing a free-text message, rewriting one scene). No assertions.
// Usage: npx tsx bench/plan.ts   (SPINBOT_MODEL_PATH, SPINBOT_LLM_THREADS and SPINBOT_LLM_GPU apply)
import { cpus, loadavg } from 'node:os';
import { revisePlan } from '../agent/conversation/revise.ts';
import { routeIntent } from '../agent/conversation/route.ts';
import { planVideo } from '../agent/graph.ts';
import { disposeEmbeddedModels, EmbeddedChatModel } from '../agent/llm/embedded.ts';
import { createChatModel } from '../agent/llm/index.ts';
import { isUserError } from '../pipeline/errors.ts';

const PROMPTS = [
  'a 20 second explainer about why the sky is blue',
  'a 30-second video on how to brew good coffee at home',
  'a 1 minute story about a lighthouse keeper who befriends a seagull',
];

const env = { ...process.env, OLLAMA_BASE_URL: '' }; // always the embedded model
const llm = createChatModel(env);
const model = llm.model;
if (!(model instanceof EmbeddedChatModel)) throw new Error('expected the embedded model');

console.log(`model: ${llm.label}  (${cpus().length} CPUs, load average ${loadavg().map((n) => n.toFixed(1)).join(' ')})`);
try {
  const loadStarted = performance.now();
  await llm.ready();
  console.log(`load: ${((performance.now() - loadStarted) / 1000).toFixed(1)} s`);

  console.log('\nplan                                                   total s  calls  out tok  gen s  tok/s  scenes');
  for (const prompt of PROMPTS) {
    const before = { ...model.stats };
    const started = performance.now();
    let outcome: string;
    try {
      const plan = await planVideo({ prompt }, llm);
      outcome = `${plan.scenes.length} (${plan.scenes.reduce((n, s) => n + s.seconds, 0)} s) "${plan.title}"`;
    } catch (error) {
      outcome = isUserError(error) ? `UserError ${error.id}` : `error: ${String(error)}`;
    }
    const totalS = (performance.now() - started) / 1000;
    const calls = model.stats.calls - before.calls;
    const outTokens = model.stats.outputTokens - before.outputTokens;
    const genS = (model.stats.generationMs - before.generationMs) / 1000;
    const tps = genS > 0 ? outTokens / genS : 0;
    console.log(
      `${prompt.slice(0, 54).padEnd(54)} ${totalS.toFixed(1).padStart(7)}  ${String(calls).padStart(5)}  ${String(outTokens).padStart(7)}  ${genS.toFixed(1).padStart(5)}  ${tps.toFixed(1).padStart(5)}  ${outcome}`,
    );
  }
  // The conversation's own model calls: routing a message no rule decides, and rewriting one scene.
  console.log('\nconversation                                           total s  calls  answer');
  const situation = { pending: null, lastJob: null };
  for (const message of ['what kind of videos can you make?', 'octopus facts for my nephew, 15 seconds please', 'tell me a joke about cats', 'where is that thing I asked for']) {
    const before = model.stats.calls;
    const started = performance.now();
    const intent = await routeIntent(message, situation, [], llm);
    const totalS = (performance.now() - started) / 1000;
    console.log(`route: ${message.slice(0, 47).padEnd(47)} ${totalS.toFixed(1).padStart(7)}  ${String(model.stats.calls - before).padStart(5)}  ${intent.tool} (${intent.via})`);
  }
  const plan = await planVideo({ prompt: PROMPTS[0]! }, llm);
  const before = model.stats.calls;
  const started = performance.now();
  const revision = await revisePlan({ plan, request: { prompt: PROMPTS[0]! } }, 'redo scene 2 with a sunset', 2, { ...llm, plan: (r) => planVideo(r, llm) });
  const totalS = (performance.now() - started) / 1000;
  console.log(`revise: "redo scene 2 with a sunset"                   ${totalS.toFixed(1).padStart(7)}  ${String(model.stats.calls - before).padStart(5)}  changed ${revision.changed.map((i) => i + 1).join(', ')}: ${revision.plan.scenes[1]!.visualPrompt}`);

  const s = model.stats;
  console.log(
    `\nall: ${s.calls} calls, ${s.promptTokens} prompt tokens (approx.), ${s.outputTokens} output tokens in ${(s.generationMs / 1000).toFixed(1)} s = ${((s.outputTokens / s.generationMs) * 1000).toFixed(1)} tok/s`,
  );
} finally {
  await disposeEmbeddedModels();
}
