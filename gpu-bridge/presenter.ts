// A photo sent to be the presenter ("present it yourself"), checked by the worker's presenter_photo job
// (mediapipe on the CPU) so the Node side stays model-free: the face is found (the largest of several),
// and a refused photo (no face, a tiny face, a declared size over the limit) stores nothing.
import { randomUUID } from 'node:crypto';
import { CONTRACT_VERSION, PresenterPhotoResult, type GpuJobInput } from './contracts/index.ts';
import type { GpuQueue } from './producer.ts';

type Owner = Extract<GpuJobInput, { kind: 'presenter_photo' }>['requestedBy'];

/** Where a user's presenter portrait is kept: users/<platform>/<userId>/presenter.png. */
export function presenterKeyFor(owner: { platform: string; userId: string }): string {
  return `users/${owner.platform}/${owner.userId}/presenter.png`;
}

/**
 * Queues a presenter_photo job for an uploaded photo (stored at imageKey, which the worker deletes) and
 * waits for its result. A refusal rejects with the producer's StageFailure: code BAD_INPUT and a message
 * worded for the user ("I could not find a face in that photo; ...").
 */
export async function checkPresenterPhoto(
  queue: GpuQueue,
  photo: { imageKey: string; owner: Owner },
  signal?: AbortSignal,
): Promise<PresenterPhotoResult> {
  const job = await queue.submit({
    kind: 'presenter_photo',
    contractVersion: CONTRACT_VERSION,
    jobId: `presenter-photo-${randomUUID()}`,
    requestedBy: photo.owner,
    imageKey: photo.imageKey,
    presenterKey: presenterKeyFor(photo.owner),
  });
  return queue.waitForResult(job, PresenterPhotoResult, { signal });
}
