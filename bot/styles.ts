// A user's trained styles (LoRAs): the picture set checked before anything is stored or queued, the
// train_lora job built from it, and the library under users/<platform>/<id>/loras/ (the worker writes
// <name>.safetensors and <name>.json beside it, the JSON recording the base model and trigger word).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { z } from 'zod';
import type { GpuJobInput, RenderJob, TrainLoraJob } from '../gpu-bridge/contracts/index.ts';
import { identifyFile } from '../media/identify.ts';
import type { Storage } from '../storage/index.ts';
import { runDoctor } from './doctor.ts';

export const STYLE_IMAGES = { min: 8, max: 40, minSide: 512 } as const;
const NAME = /^[\p{L}\p{N}][\p{L}\p{N} _-]{0,31}$/u;

export type Owner = z.infer<typeof TrainLoraJob>['requestedBy'];

export interface StyleInfo {
  name: string;
  baseModel: string;
  trigger: string;
  images: number;
  steps: number;
  loraKey: string;
}

export type Refusal = { ok: false; message: string };

/** The slug the worker stores a style under (training/__init__.py slug()): lower case, a-z0-9_- only. */
export function styleSlug(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').toLowerCase() || 'unnamed';
}

const prefixOf = (owner: Pick<Owner, 'platform' | 'userId'>) => `users/${styleSlug(owner.platform)}/${styleSlug(owner.userId)}/loras/`;

export interface CheckedImage {
  path: string;
  format: string;
}

/**
 * The pictures a style is trained on, checked by content (never by name): pictures only, each at
 * least 512 px a side, none over the pixel limit (read from the header, before any decoding),
 * exact duplicates dropped, 8-40 left.
 */
export async function checkTrainingImages(files: { path: string; name: string }[]): Promise<{ ok: true; images: CheckedImage[]; duplicates: number } | Refusal> {
  const seen = new Set<string>();
  const images: CheckedImage[] = [];
  let duplicates = 0;
  for (const file of files) {
    const found = await identifyFile(file.path);
    if (found.kind !== 'image') return { ok: false, message: `${file.name} is ${found.description}, not a picture: send photos or drawings (PNG, JPEG, WebP).` };
    const { width, height } = found.pixels!;
    if (found.oversized) return { ok: false, message: `${file.name} declares ${width}x${height} pixels, more than I open (40 megapixels); send a smaller copy.` };
    if (Math.min(width, height) < STYLE_IMAGES.minSide) {
      return { ok: false, message: `${file.name} is ${width}x${height}; each picture needs at least ${STYLE_IMAGES.minSide} px on both sides.` };
    }
    const digest = createHash('sha256').update(await readFile(file.path)).digest('hex');
    if (seen.has(digest)) {
      duplicates += 1;
      continue;
    }
    seen.add(digest);
    images.push({ path: file.path, format: found.format });
  }
  if (images.length < STYLE_IMAGES.min || images.length > STYLE_IMAGES.max) {
    const dropped = duplicates ? ` (${duplicates} duplicate${duplicates > 1 ? 's' : ''} left out)` : '';
    return { ok: false, message: `A style needs ${STYLE_IMAGES.min} to ${STYLE_IMAGES.max} different pictures; I have ${images.length}${dropped}.` };
  }
  return { ok: true, images, duplicates };
}

/** null when a worker can train styles (a ComfyUI with the training workflow's models), else one sentence saying what is needed. */
export type TrainingReadiness = () => Promise<string | null>;

export const NEEDS_GPU =
  'Training a style needs a GPU worker with ComfyUI (COMFYUI_URL) and the SDXL base model (checkpoints/sd_xl_base_1.0.safetensors); this installation has none, so nothing was queued.';

/** Asks the worker's own preflight (the doctor command) whether the training workflow is ready. */
export function comfyTrainingReadiness(env: NodeJS.ProcessEnv = process.env): TrainingReadiness {
  return async () => {
    if (!env.COMFYUI_URL) return NEEDS_GPU;
    const line = runDoctor(env).text.split('\n').find((l) => l.startsWith('train_lora:'));
    if (line?.includes('— ready')) return null;
    return `Training a style needs the training workflow ready on ComfyUI: ${line ?? 'no training workflow is installed (workflows/train-lora-sdxl)'}. Nothing was queued.`;
  };
}

export class StyleLibrary {
  constructor(private readonly storage: Storage) {}

  async list(owner: Pick<Owner, 'platform' | 'userId'>): Promise<StyleInfo[]> {
    const objects = await this.storage.list(prefixOf(owner));
    const styles: StyleInfo[] = [];
    for (const object of objects.filter((o) => o.key.endsWith('.json'))) {
      const loraKey = object.key.replace(/\.json$/, '.safetensors');
      if (!(await this.storage.stat(loraKey))) continue; // a training that did not finish
      const meta = JSON.parse((await this.storage.get(object.key)).toString('utf8'));
      styles.push({ name: meta.name, baseModel: meta.baseModel, trigger: meta.trigger, images: meta.images, steps: meta.steps, loraKey });
    }
    return styles.sort((a, b) => a.name.localeCompare(b.name));
  }

  async find(owner: Pick<Owner, 'platform' | 'userId'>, name: string): Promise<StyleInfo | null> {
    return (await this.list(owner)).find((s) => styleSlug(s.name) === styleSlug(name)) ?? null;
  }

  /** false when the user has no style of that name. */
  async remove(owner: Pick<Owner, 'platform' | 'userId'>, name: string): Promise<boolean> {
    const style = await this.find(owner, name);
    if (!style) return false;
    await this.storage.delete(style.loraKey);
    await this.storage.delete(style.loraKey.replace(/\.safetensors$/, '.json'));
    await this.storage.delete(style.loraKey.replace(/\.safetensors$/, '-loss.png')); // the loss curve, when the trainer drew one
    return true;
  }

  /** The render job's `style` for "in my style <name>" / `/generate style:<name>`, or a sentence. */
  async styleFor(owner: Pick<Owner, 'platform' | 'userId'>, name: string): Promise<{ ok: true; style: NonNullable<RenderJob['style']> } | Refusal> {
    const style = await this.find(owner, name);
    if (!style) {
      const names = (await this.list(owner)).map((s) => s.name);
      return { ok: false, message: `You have no style named "${name}"${names.length ? `; yours: ${names.join(', ')}` : ''}.` };
    }
    return { ok: true, style: { name: style.name, loraKey: style.loraKey, baseModel: style.baseModel, trigger: style.trigger } };
  }

  /**
   * Everything before the queue: the name, the user's own name clash, the picture set, a worker able
   * to train. A refusal stores and queues nothing; otherwise the pictures are stored and the job returned.
   */
  async prepareTraining(
    owner: Owner,
    name: string,
    files: { path: string; name: string }[],
    options: { jobId: string; readiness: TrainingReadiness; caption?: string; steps?: number },
  ): Promise<{ ok: true; job: GpuJobInput; duplicates: number } | Refusal> {
    if (!NAME.test(name)) return { ok: false, message: 'A style name is 1-32 letters, digits, spaces, _ or -, starting with a letter or digit.' };
    if (await this.find(owner, name)) return { ok: false, message: `You already have a style named "${name}": remove it first (/styles remove ${name}) or choose another name.` };
    const checked = await checkTrainingImages(files);
    if (!checked.ok) return checked;
    const needs = await options.readiness();
    if (needs) return { ok: false, message: needs };
    const folder = `uploads/${styleSlug(owner.platform)}/${styleSlug(owner.userId)}/train-${styleSlug(name)}-${options.jobId}/`;
    const imageKeys: string[] = [];
    for (const [index, image] of checked.images.entries()) {
      const key = `${folder}${String(index + 1).padStart(2, '0')}${extname(image.path).toLowerCase() || `.${image.format}`}`;
      await this.storage.put(key, { file: image.path });
      imageKeys.push(key);
    }
    const job: GpuJobInput = {
      kind: 'train_lora', contractVersion: 1, jobId: options.jobId, requestedBy: owner, name, imageKeys,
      steps: options.steps ?? 500, ...(options.caption ? { caption: options.caption.slice(0, 300) } : {}),
    };
    return { ok: true, job, duplicates: checked.duplicates };
  }
}

/** prepareTraining, then the queue: the one way chat front-ends start a style's training. */
export async function startTraining(
  library: StyleLibrary,
  queue: { submit(job: GpuJobInput): Promise<{ id?: string }> },
  ...args: Parameters<StyleLibrary['prepareTraining']>
): Promise<{ ok: true; jobId: string; duplicates: number } | Refusal> {
  const prepared = await library.prepareTraining(...args);
  if (!prepared.ok) return prepared;
  const job = await queue.submit(prepared.job);
  return { ok: true, jobId: job.id ?? prepared.job.jobId, duplicates: prepared.duplicates };
}

/** What parseStyle (agent/nodes/understand.ts) makes of "in my style <name>". */
const MY_STYLE = /^my style\s+(.+)$/i;

/**
 * The plan's style as one of the user's trained styles, for the render job: "my style <name>" must
 * be theirs (else one sentence); a plain style word (Discord `style:`) that names one of theirs is
 * applied too, and any other stays a look described in words. `planStyle` is what the plan says then.
 */
export async function trainedStyleOf(
  library: StyleLibrary,
  owner: Pick<Owner, 'platform' | 'userId'>,
  planStyle: string,
): Promise<{ ok: true; style?: NonNullable<RenderJob['style']>; planStyle: string } | Refusal> {
  const asked = MY_STYLE.exec(planStyle.trim())?.[1]?.trim();
  if (asked) {
    const found = await library.styleFor(owner, asked);
    return found.ok ? { ok: true, style: found.style, planStyle: found.style.name } : found;
  }
  if (!planStyle.trim() || !NAME.test(planStyle.trim())) return { ok: true, planStyle };
  const found = await library.styleFor(owner, planStyle.trim());
  return found.ok ? { ok: true, style: found.style, planStyle: found.style.name } : { ok: true, planStyle };
}
