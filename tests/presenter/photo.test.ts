// "Present it yourself": a photo sent to be the presenter is checked by the worker's presenter_photo job
// (real queue, real worker, mediapipe on the CPU). An accepted photo is kept as the user's presenter; a
// refused one gets one sentence back and leaves nothing stored, not even the upload.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { checkPresenterPhoto, presenterKeyFor } from '../../gpu-bridge/presenter.ts';
import type { StageFailure } from '../../gpu-bridge/producer.ts';
import { pngImage } from '../channel/fixtures.ts';
import { openTestStudio } from '../e2e/helpers.ts';

/** Grace Hopper's official US Navy portrait (public domain), shipped by matplotlib, which mediapipe installs. */
function portrait(): Buffer {
  const lib = path.resolve('.venv/lib');
  const python = readdirSync(lib).find((name) => name.startsWith('python'))!;
  return readFileSync(path.join(lib, python, 'site-packages/matplotlib/mpl-data/sample_data/grace_hopper.jpg'));
}

const owner = { platform: 'telegram' as const, userId: '42' };

test('a portrait becomes the presenter; a picture without a face is refused in one sentence and nothing is kept', async (t) => {
  const studio = await openTestStudio(t);

  await studio.storage.put('uploads/telegram/42/photo.jpg', portrait());
  const accepted = await checkPresenterPhoto(studio.queue, { imageKey: 'uploads/telegram/42/photo.jpg', owner });
  assert.equal(accepted.facesFound, 1);
  assert.equal(accepted.note, '');
  assert.equal(accepted.presenterKey, presenterKeyFor(owner));
  assert.notEqual(await studio.storage.stat(presenterKeyFor(owner)), null);
  assert.equal(await studio.storage.stat('uploads/telegram/42/photo.jpg'), null, 'the upload is not kept');

  const stranger = { platform: 'telegram' as const, userId: '43' };
  await studio.storage.put('uploads/telegram/43/photo.png', pngImage());
  await assert.rejects(checkPresenterPhoto(studio.queue, { imageKey: 'uploads/telegram/43/photo.png', owner: stranger }), (error: StageFailure) => {
    assert.equal(error.name, 'StageFailure');
    assert.equal(error.detail.code, 'BAD_INPUT');
    assert.equal(error.message, 'I could not find a face in that photo; send a clear, front-facing portrait.');
    return true;
  });
  assert.deepEqual(await studio.storage.list('users/telegram/43/'), []);
  assert.equal(await studio.storage.stat('uploads/telegram/43/photo.png'), null);
});
