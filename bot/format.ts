// Texts every front-end shows: the plan to approve and the finished clip.
import type { ScriptPlan } from '../gpu-bridge/contracts/index.ts';
import type { RenderedClip } from '../pipeline/render.ts';

/** What a server without a GPU worker does instead, for /start and /help. */
export const WITHOUT_GPU_NOTE =
  'Voice cloning and generated pictures need a GPU worker; without one, narration uses the Piper voice (espeak-ng for languages Piper lacks) and pictures are illustrated scenes drawn on the CPU, with your reference photo in them when you sent one.';

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} B`;
}

/** A rough CPU-backend estimate (bench/ figures): start-up plus work per second of video. */
export function estimateRenderSeconds(plan: ScriptPlan): number {
  const seconds = plan.scenes.reduce((sum, s) => sum + s.seconds, 0);
  return Math.round(4 + 0.5 * seconds);
}

/** Which scenes have the presenter (whose face) and which move, for the plan shown for approval. */
function staging(plan: ScriptPlan): string[] {
  const numbers = (pick: (scene: ScriptPlan['scenes'][number]) => boolean) =>
    plan.scenes.flatMap((scene, i) => (pick(scene) ? [i + 1] : [])).join(', ');
  const presented = numbers((scene) => (scene.presenter ?? 'none') !== 'none');
  const moving = numbers((scene) => scene.motion === true);
  const lines: string[] = [];
  if (presented) lines.push(`Presenter: ${plan.presenterKey ? 'you, from your photo' : 'the built-in character'} in scenes ${presented}`);
  if (moving) lines.push(`Motion: scenes ${moving} move (on a GPU; otherwise a slow pan over the picture)`);
  return lines;
}

function sceneTags(scene: ScriptPlan['scenes'][number]): string {
  const tags = [
    ...(scene.presenter === 'full' ? ['presenter'] : scene.presenter === 'corner' ? ['presenter in the corner'] : []),
    ...(scene.motion ? ['moving'] : []),
  ];
  return tags.length ? ` [${tags.join(', ')}]` : '';
}

export function formatPlan(plan: ScriptPlan): string {
  const total = plan.scenes.reduce((sum, s) => sum + s.seconds, 0);
  const shape = { '16:9': 'landscape 16:9', '9:16': 'vertical 9:16', '1:1': 'square 1:1' }[plan.aspect];
  const lines = [
    `Plan: "${plan.title}" — ${plan.scenes.length} scenes, ${total} s, voice ${plan.voice.id} (${plan.voice.engine}), language ${plan.language}`,
    `Look: ${shape}${plan.style ? `, ${plan.style} style` : ''}, ${plan.music ? 'with music' : 'no music'}`,
    ...staging(plan),
  ];
  plan.scenes.forEach((scene, i) => {
    lines.push(`  ${i + 1}. (${scene.seconds} s)${sceneTags(scene)} ${scene.narration}`);
    lines.push(`     visual: ${scene.visualPrompt}${scene.onScreenText ? ` · text: "${scene.onScreenText}"` : ''}`);
  });
  // What the planner could not fix (agent/nodes/enforce.ts withNotice), right under the scenes it names.
  if (plan.notice) lines.push(plan.notice);
  lines.push(`Estimated render time: about ${estimateRenderSeconds(plan)} s.`);
  return lines.join('\n');
}

/** How the result line names each stage's backend, in this order; other stages follow by their own name. */
const RESULT_LINE_STAGES: Array<[stage: string, label: string]> = [
  ['tts', 'Voice'],
  ['visuals', 'pictures'],
  ['upscale', 'upscale'],
  ['lipsync', 'presenter'],
  ['music', 'music'],
];

/** A clip's stages in result-line order; assembly is left out (every clip is assembled by ffmpeg). */
function inLineOrder(byStage: Record<string, string>): Array<[stage: string, value: string]> {
  const order = (stage: string) => {
    const index = RESULT_LINE_STAGES.findIndex(([s]) => s === stage);
    return index === -1 ? RESULT_LINE_STAGES.length : index;
  };
  return Object.entries(byStage)
    .filter(([stage]) => stage !== 'assemble')
    .sort(([a], [b]) => order(a) - order(b));
}

/**
 * The clip's result line: where it is, and every model that made it, e.g. `Voice: Piper joe-medium
 * (CPU); pictures: illustrated (CPU); upscale: Real-ESRGAN animevideov3 (CPU); music: "calm_acoustic_1"
 * (immich-memories-music, MIT); plan: <the planner>`.
 */
export function formatClip(clip: RenderedClip, location = clip.location, planner?: string): string {
  const named = inLineOrder({ tts: 'unknown', ...clip.backends }).map(([stage, name]) => `${RESULT_LINE_STAGES.find(([s]) => s === stage)?.[1] ?? stage}: ${name}`);
  if (planner) named.push(`plan: ${planner}`);
  return `Done: ${location} (${clip.seconds.toFixed(1)} s, ${formatBytes(clip.bytes)}). ${named.join('; ')}.`;
}

/**
 * The licences the backends reported, one line named by backend (empty when none did), e.g.
 * `Licences — Piper joe-medium: voice: MIT ...; engine: ... | illustrated: MIT (this code); ...`.
 * Put last: a platform's caption limit may cut it.
 */
export function formatLicences(clip: RenderedClip): string {
  const named = inLineOrder(clip.licences ?? {}).map(([stage, licence]) => `${(clip.backends[stage] ?? stage).replace(/\s*\((CPU|GPU)\b[^)]*\)$/, '')}: ${licence}`);
  return named.length ? `Licences — ${named.join(' | ')}.` : '';
}
