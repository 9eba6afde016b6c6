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

export function formatPlan(plan: ScriptPlan): string {
  const total = plan.scenes.reduce((sum, s) => sum + s.seconds, 0);
  const shape = { '16:9': 'landscape 16:9', '9:16': 'vertical 9:16', '1:1': 'square 1:1' }[plan.aspect];
  const lines = [
    `Plan: "${plan.title}" — ${plan.scenes.length} scenes, ${total} s, voice ${plan.voice.id} (${plan.voice.engine}), language ${plan.language}`,
    `Look: ${shape}${plan.style ? `, ${plan.style} style` : ''}, ${plan.music ? 'with music' : 'no music'}`,
  ];
  plan.scenes.forEach((scene, i) => {
    lines.push(`  ${i + 1}. (${scene.seconds} s) ${scene.narration}`);
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
