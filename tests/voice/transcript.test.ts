// A saved voice sample gets its transcript back: the bot hands it to the worker's transcribe job
// (Whisper on the CPU, real queue, real worker), shows "I heard: ...", and keeps the text beside the
// sample (voice cloning needs it) until the voice is removed.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { VoiceLibrary } from '../../bot/uploads/voices.ts';
import { heardLine, sampleTranscriber, transcriptKeyFor } from '../../gpu-bridge/transcribe.ts';
import { speechSample } from '../channel/fixtures.ts';
import { openTestStudio } from '../e2e/helpers.ts';

const SAID = 'Good morning. Today the weather is sunny and warm.';
let server: http.Server;
let origin: string;

before(async () => {
  const sample = speechSample('ogg', { text: SAID });
  server = http.createServer((req, res) => void (req.url === '/sample.ogg' ? res.writeHead(200).end(sample) : res.writeHead(404).end()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise((resolve) => server.close(resolve)));

test('a saved voice sample is transcribed by the worker, shown to the user and kept beside the sample', async (t) => {
  const studio = await openTestStudio(t);
  const voices = new VoiceLibrary(studio.storage, { maxVoices: 3, transcribe: sampleTranscriber(studio.queue) });
  const owner = { platform: 'telegram' as const, userId: '42' };
  const saved = await voices.addFromUpload(owner, 'Morning', { url: `http://${origin}/sample.ogg` }, { allowedHosts: [origin], maxBytes: 5_000_000 });

  const heard = (saved.transcript ?? '').toLowerCase();
  for (const word of ['morning', 'weather', 'sunny', 'warm']) assert.ok(heard.includes(word), `"${word}" in the transcript: ${saved.transcript}`);
  assert.match(heardLine(saved.transcript), /^ I heard: "Good morning/);

  const key = voices.key(owner, 'morning');
  const stored = JSON.parse((await studio.storage.get(transcriptKeyFor(key))).toString('utf8'));
  assert.equal(stored.text, saved.transcript);
  assert.equal(stored.language, 'en');

  assert.equal(await voices.remove(owner, 'morning'), true);
  assert.equal(await studio.storage.stat(transcriptKeyFor(key)), null, 'the transcript goes with its voice');
});

test('what the user reads when there is no transcript', () => {
  assert.equal(heardLine(undefined), '', 'no transcriber configured: nothing is promised');
  assert.match(heardLine(null), /could not transcribe it just now.*saved anyway/);
  assert.match(heardLine('  '), /heard no words/);
  assert.ok(heardLine('x'.repeat(1000)).length < 330, 'a long transcript is shortened');
});
