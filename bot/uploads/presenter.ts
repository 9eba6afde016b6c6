// "Present it yourself" / "presented by me": the photo the user sent last becomes the presenter. The
// worker checks it (presenter_photo job: a face, the largest of several, not tiny, not oversized) and
// keeps a checked portrait; a refused photo gets its one sentence and nothing is stored.
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { PresenterChoice } from '../../agent/nodes/presenter.ts';
import { parsePresenter } from '../../agent/nodes/understand.ts';
import type { PlanRequest } from '../../agent/state.ts';
import { checkPresenterPhoto, presenterKeyFor } from '../../gpu-bridge/presenter.ts';
import { UserError } from '../../pipeline/errors.ts';
import type { Studio } from '../../pipeline/studio.ts';
import type { Owner, ReferenceImages } from './voices.ts';

export interface PresenterDefaults {
  /** Request fields for the planner: the checked portrait's key when the text asks the user to present. */
  request: Pick<PlanRequest, 'presenterKey'>;
  /** A sentence for the user when the worker chose for them (several faces: the largest). */
  note?: string;
}

/**
 * When `text` (or `choice`, a command option, which wins) asks for the user as presenter: the photo they sent last, checked into their presenter
 * portrait (or the one kept from before when no new photo came). Nothing when the text does not ask.
 * A refused photo throws a UserError with the worker's sentence; the portrait kept before stays as it was.
 */
export async function presenterDefaults(
  studio: Pick<Studio, 'queue' | 'storage'>,
  images: ReferenceImages | undefined,
  owner: Owner,
  text: string,
  choice?: PresenterChoice,
): Promise<PresenterDefaults> {
  if ((choice ?? parsePresenter(text)) !== 'me') return { request: {} };
  const photo = await images?.current(owner);
  if (!photo) {
    const kept = presenterKeyFor(owner);
    return { request: (await studio.storage.stat(kept)) ? { presenterKey: kept } : {} };
  }
  // The check consumes its input: a copy goes, the reference picture stays for the pictures stage.
  const upload = `uploads/${owner.platform}/${owner.userId}/presenter-${randomUUID().slice(0, 8)}${path.posix.extname(photo)}`;
  await studio.storage.put(upload, await studio.storage.get(photo));
  try {
    const checked = await checkPresenterPhoto(studio.queue, { imageKey: upload, owner });
    return { request: { presenterKey: checked.presenterKey }, ...(checked.note ? { note: checked.note } : {}) };
  } catch (error) {
    await studio.storage.delete(upload).catch(() => {});
    throw refusal(error);
  }
}

/** Largest photo file the console reads; the worker still checks the declared pixel size before decoding. */
const MAX_PHOTO_FILE_BYTES = 20 * 1024 * 1024;

/**
 * A photo given by its path (the console: "/photo ~/me.jpg") checked into the user's presenter portrait.
 * Returns the sentence for the user; a refusal throws a UserError with the worker's sentence, nothing stored.
 */
export async function usePhotoFile(studio: Pick<Studio, 'queue' | 'storage'>, owner: Owner, file: string): Promise<string> {
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) throw new UserError('upload.failed', `There is no file at ${file}; give the path of a photo (JPEG, PNG or WebP).`);
  if (info.size > MAX_PHOTO_FILE_BYTES) throw new UserError('upload.tooLarge', `That file is ${Math.round(info.size / 1024 / 1024)} MB; a photo of up to 20 MB will do.`);
  const upload = `uploads/${owner.platform}/${owner.userId}/presenter-${randomUUID().slice(0, 8)}${path.extname(file).toLowerCase().replace(/[^.a-z0-9]/g, '')}`;
  await studio.storage.put(upload, { file });
  try {
    const checked = await checkPresenterPhoto(studio.queue, { imageKey: upload, owner });
    return `This photo presents your videos now: say "present it yourself".${checked.note ? ` ${checked.note}` : ''}`;
  } catch (error) {
    await studio.storage.delete(upload).catch(() => {});
    throw refusal(error);
  }
}

/** The worker's refusal (BAD_INPUT) as the user's sentence; anything else as it was. */
function refusal(error: unknown): unknown {
  const failure = error as { name?: string; detail?: { code?: string }; message?: string };
  if (failure.name === 'StageFailure' && failure.detail?.code === 'BAD_INPUT') return new UserError('presenter.photoRefused', failure.message ?? 'That photo cannot be the presenter.');
  return error;
}
