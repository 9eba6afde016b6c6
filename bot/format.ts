// Texts every front-end shows: the plan to approve and the finished clip.
import type { ScriptPlan } from '../gpu-bridge/contracts/index.ts';
import type { RenderedClip } from '../pipeline/render.ts';

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
  lines.push(`Estimated render time: about ${estimateRenderSeconds(plan)} s.`);
  return lines.join('\n');
}

export function formatClip(clip: RenderedClip, location = clip.location): string {
  const voice = clip.backends.tts ?? 'unknown';
  const visuals = clip.backends.visuals ?? 'unknown';
  return `Done: ${location} (${clip.seconds.toFixed(1)} s, ${formatBytes(clip.bytes)}). Voice: ${voice}; visuals: ${visuals}.`;
}
