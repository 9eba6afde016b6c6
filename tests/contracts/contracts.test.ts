// The contracts are one source of truth: the committed JSON Schema must match the zod schemas,
// and the shared fixtures must be accepted or refused as their names say (the worker's pytest
// suite checks the same fixtures against the JSON Schema).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { GpuJob } from '../../gpu-bridge/contracts/index.ts';
import { staleSchemas } from '../../gpu-bridge/contracts/generate.ts';
import { parseFailedReason } from '../../gpu-bridge/producer.ts';

const fixtureDir = new URL('../../gpu-bridge/contracts/fixtures/', import.meta.url);

test('the committed JSON Schema is generated from the current zod contracts', () => {
  assert.deepEqual(staleSchemas(), [], 'run `npm run contracts:generate` and commit the result');
});

for (const file of readdirSync(fixtureDir).filter((f) => f.endsWith('.json'))) {
  test(`fixture ${file} is ${file.startsWith('valid') ? 'accepted' : 'refused'} by the contract`, () => {
    const data = JSON.parse(readFileSync(new URL(file, fixtureDir), 'utf8'));
    const result = GpuJob.safeParse(data);
    assert.equal(result.success, file.startsWith('valid'), result.success ? '' : result.error.message);
  });
}

test('stage errors from the worker are read back whether JSON-quoted once or twice; other reasons stay the queue\'s', () => {
  const error = { stage: 'tts', code: 'NO_GPU', message: 'needs a GPU', retryable: false };
  assert.deepEqual(parseFailedReason(JSON.stringify(error)), { kind: 'stage', error });
  assert.deepEqual(parseFailedReason(JSON.stringify(JSON.stringify(error))), { kind: 'stage', error });
  // The queue's own reasons are not blamed on a stage, nor made retryable.
  assert.deepEqual(parseFailedReason('job stalled more than allowable limit'), { kind: 'queue', reason: 'job stalled more than allowable limit' });
  assert.deepEqual(parseFailedReason(undefined), { kind: 'queue', reason: 'the job ended without a reason' });
});
