// Uploads: what a file is (by content, never by name), downloads that stay within their limits
// and hosts, and voice samples turned into 24 kHz mono WAV with the silence trimmed.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { downloadUpload } from '../../bot/uploads/download.ts';
import { ReferenceImages, VoiceLibrary } from '../../bot/uploads/voices.ts';
import { IMAGE_LIMITS, identifyFile } from '../../media/identify.ts';
import { probeMedia } from '../../media/probe.ts';
import { FsStorage } from '../../storage/fs.ts';
import { pngImage, speechSample } from './fixtures.ts';
import { jpegDeclaring, longRecording, picture, pngDeclaring, truncated, webpDeclaring } from '../inputs/files.ts';

let dir: string;
let server: http.Server;
let origin: string;
const served = new Map<string, { body: Buffer; contentLength?: number }>();

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'spinbot-uploads-'));
  server = http.createServer((req, res) => {
    const file = served.get(req.url ?? '');
    if (!file) return void res.writeHead(404).end();
    // A file host that lies about the size (or sends none): the download must still stop at the limit.
    res.writeHead(200, file.contentLength === undefined ? {} : { 'content-length': String(file.contentLength) });
    res.end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

async function fileWith(name: string, bytes: Buffer): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, bytes);
  return file;
}

test('files are identified by their content, not their name', async () => {
  const cases: Array<[string, Buffer, string, string]> = [
    ['voice.ogg', speechSample('ogg'), 'audio', 'ogg'],
    ['voice.mp3', speechSample('mp3'), 'audio', 'mp3'],
    ['voice.wav', speechSample('wav'), 'audio', 'wav'],
    ['picture.png', pngImage(), 'image', 'png'],
    ['renamed.ogg', pngImage(), 'image', 'png'],
    ['renamed.png', speechSample('ogg'), 'audio', 'ogg'],
    ['notes.ogg', Buffer.from('%PDF-1.4 not audio at all'), 'other', 'pdf'],
    ['broken.ogg', Buffer.concat([Buffer.from('OggS'), Buffer.alloc(200, 7)]), 'other', 'ogg'],
    ['noise.bin', Buffer.alloc(500, 3), 'other', 'unknown'],
    ['photo.jpg', Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypheic\0\0\0\0mif1heic', 'latin1'), Buffer.alloc(100)]), 'other', 'heic'],
    ['voice.mp3', Buffer.from('#!/bin/sh\nrm -rf /\n'), 'other', 'program'],
    ['picture.png', Buffer.from('<?xml version="1.0"?><svg/>'), 'other', 'markup'],
  ];
  for (const [name, bytes, kind, format] of cases) {
    const identified = await identifyFile(await fileWith(name, bytes));
    assert.equal(identified.kind, kind, `${name}: ${identified.description}`);
    assert.equal(identified.format, format, name);
  }
});

test('downloads come only from the allowed hosts and stop at the size limit, whatever the host claims', async () => {
  served.set('/ok.ogg', { body: Buffer.alloc(1000, 1) });
  served.set('/liar.ogg', { body: Buffer.alloc(300_000, 1), contentLength: undefined });
  served.set('/declared.ogg', { body: Buffer.alloc(300_000, 1), contentLength: 300_000 });
  const policy = { allowedHosts: [origin], maxBytes: 100_000 };

  const ok = path.join(dir, 'ok');
  assert.equal(await downloadUpload({ url: `http://${origin}/ok.ogg` }, ok, policy), 1000);

  await assert.rejects(downloadUpload({ url: `http://${origin}/ok.ogg`, declaredBytes: 200_000 }, path.join(dir, 'a'), policy), { id: 'upload.tooLarge' });
  await assert.rejects(downloadUpload({ url: `http://${origin}/liar.ogg`, declaredBytes: 1000 }, path.join(dir, 'b'), policy), { id: 'upload.tooLarge' });
  assert.equal(existsSync(path.join(dir, 'b')), false, 'no partial file is left behind');
  await assert.rejects(downloadUpload({ url: `http://${origin}/declared.ogg` }, path.join(dir, 'c'), policy), { id: 'upload.tooLarge' });
  await assert.rejects(downloadUpload({ url: 'http://169.254.169.254/latest/meta-data' }, path.join(dir, 'd'), policy), { id: 'upload.forbiddenHost' });
  await assert.rejects(downloadUpload({ url: `file:///etc/passwd` }, path.join(dir, 'e'), policy), { id: 'upload.forbiddenHost' });
});

test('a saved voice is 24 kHz mono WAV with the silence trimmed, listed and removable; bad samples store nothing', async () => {
  const storage = new FsStorage(path.join(dir, 'data'));
  const voices = new VoiceLibrary(storage, { maxVoices: 2 });
  const owner = { platform: 'telegram' as const, userId: '42' };
  const policy = { allowedHosts: [origin], maxBytes: 5_000_000 };
  served.set('/anna.mp3', { body: speechSample('mp3') });
  served.set('/short.ogg', { body: speechSample('ogg', { seconds: 1 }) });
  served.set('/png.ogg', { body: pngImage() });

  const saved = await voices.addFromUpload(owner, 'Anna', { url: `http://${origin}/anna.mp3` }, policy);
  assert.equal(saved.name, 'anna');
  const wav = path.join(dir, 'anna.wav');
  await storage.getToFile(voices.key(owner, 'anna'), wav);
  const info = await probeMedia(wav);
  assert.equal(info.audio?.codec, 'pcm_s16le');
  assert.equal(info.audio?.sampleRate, 24000);
  assert.equal(info.audio?.channels, 1);
  assert.ok(Math.abs(info.durationSeconds - saved.seconds) < 0.05);

  await assert.rejects(voices.addFromUpload(owner, 'short', { url: `http://${origin}/short.ogg` }, policy), { id: 'voice.tooShort' });
  await assert.rejects(voices.addFromUpload(owner, 'png', { url: `http://${origin}/png.ogg` }, policy), { id: 'upload.unsupported', message: /PNG image, not audio/ });
  await assert.rejects(voices.addFromUpload(owner, '../../etc', { url: `http://${origin}/anna.mp3` }, policy), { id: 'voice.nameInvalid' });
  assert.deepEqual((await voices.list(owner)).map((v) => v.name), ['anna']);

  await voices.addFromUpload(owner, 'bob', { url: `http://${origin}/anna.mp3` }, policy);
  await assert.rejects(voices.addFromUpload(owner, 'carl', { url: `http://${origin}/anna.mp3` }, policy), { id: 'voice.limit' });
  const replaced = await voices.addFromUpload(owner, 'bob', { url: `http://${origin}/anna.mp3` }, policy);
  assert.equal(replaced.replaced, true, 'replacing a voice is allowed at the limit');

  assert.equal(await voices.remove(owner, 'anna'), true);
  assert.equal(await voices.remove(owner, 'anna'), false);
  await assert.rejects(voices.require(owner, 'anna'), { id: 'voice.notFound', message: /Your voices: bob/ });
  assert.deepEqual(await voices.list({ platform: 'discord', userId: '42' }), [], "another platform's user has their own namespace");
});

test('a picture is measured from its header before it is decoded or stored: bombs and damaged pictures are refused', async () => {
  // Bombs: the header alone decides; nothing is decoded (no ffprobe, no ffmpeg).
  for (const [name, bytes, width, height] of [
    ['bomb.png', pngDeclaring(30000, 30000), 30000, 30000],
    ['bomb.jpg', jpegDeclaring(60000, 60000), 60000, 60000],
    ['bomb.webp', webpDeclaring(16000, 16000), 16000, 16000],
    ['thin.png', pngDeclaring(IMAGE_LIMITS.maxSide + 1, 10), IMAGE_LIMITS.maxSide + 1, 10],
  ] as const) {
    const identified = await identifyFile(await fileWith(name, bytes));
    assert.deepEqual([identified.oversized, identified.pixels, identified.media], [true, { width, height }, undefined], name);
  }
  for (const format of ['png', 'jpeg', 'webp'] as const) {
    const whole = picture(format, 320, 240);
    const good = await identifyFile(await fileWith(`good.${format}`, whole));
    assert.deepEqual([good.kind, good.pixels], ['image', { width: 320, height: 240 }], format);
    const cut = await identifyFile(await fileWith(`cut.${format}`, truncated(whole, Math.floor(whole.length / 3))));
    assert.equal(cut.kind, 'other', `a truncated ${format}: ${cut.description}`);
    assert.match(cut.description, /cannot be read/);
  }
  // A header with no picture behind it, and one declaring 0x0.
  assert.equal((await identifyFile(await fileWith('hollow.png', pngDeclaring(100, 100)))).kind, 'other');
  assert.equal((await identifyFile(await fileWith('empty.png', pngDeclaring(0, 0)))).kind, 'other');

  const storage = new FsStorage(path.join(dir, 'images'));
  const images = new ReferenceImages(storage);
  const owner = { platform: 'telegram' as const, userId: '43' };
  const policy = { allowedHosts: [origin], maxBytes: 5_000_000 };
  served.set('/bomb.png', { body: pngDeclaring(30000, 30000) });
  served.set('/cut.png', { body: truncated(picture('png', 320, 240), 900) });
  await assert.rejects(images.addFromUpload(owner, { url: `http://${origin}/bomb.png` }, policy), {
    id: 'upload.tooManyPixels',
    message: /^That picture is 30000x30000 pixels \(900 MP\); the most I take is 40 MP/,
  });
  await assert.rejects(images.addFromUpload(owner, { url: `http://${origin}/cut.png` }, policy), { id: 'upload.unsupported', message: /cannot be read/ });
  assert.equal(await images.current(owner), null, 'nothing stored');
  served.set('/ok.png', { body: picture('png', 320, 240) });
  assert.deepEqual(await images.addFromUpload(owner, { url: `http://${origin}/ok.png` }, policy), { key: 'users/telegram/43/images/reference.png', width: 320, height: 240 });
});

test('a recording far longer than a voice sample is refused from its container duration, before it is decoded', async () => {
  const storage = new FsStorage(path.join(dir, 'long'));
  const voices = new VoiceLibrary(storage, { maxVoices: 3 });
  const owner = { platform: 'telegram' as const, userId: '44' };
  served.set('/long.ogg', { body: longRecording(10) });
  // "That recording is 10 minutes long" comes from the container's duration; the check after decoding
  // would say "That sample is ... s long".
  await assert.rejects(voices.addFromUpload(owner, 'long', { url: `http://${origin}/long.ogg` }, { allowedHosts: [origin], maxBytes: 5_000_000 }), {
    id: 'voice.tooLong',
    message: /^That recording is 10 minutes long; I need 3-30 s of speech/,
  });
  assert.deepEqual(await voices.list(owner), [], 'nothing stored');
});
