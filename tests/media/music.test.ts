// Music from the library (model cache id "music"): the mood from the words, a track of that mood under
// the narration, ducked while it speaks, audible in the pauses, faded in and out. Real ffmpeg, real tracks.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { assembleClip, type SceneInput } from '../../media/assemble.ts';
import { moodFromWords, pickTrack } from '../../media/music.ts';
import { makeImage, makeTempDir } from './fixtures.ts';

const run = promisify(execFile);

/** Mean volume (dB) of [start, end) of the clip's audio, after an optional filter. */
function windowVolumeDb(file: string, start: number, end: number, filter = 'anull'): number {
  const done = spawnSync('ffmpeg', ['-hide_banner', '-nostats', '-ss', String(start), '-t', String(end - start), '-i', file, '-map', '0:a:0', '-af', `${filter},volumedetect`, '-f', 'null', '-'], { encoding: 'utf8' });
  const mean = /mean_volume:\s*(-?[\d.]+|-inf) dB/.exec(done.stderr)?.[1];
  return mean === undefined || mean === '-inf' ? -120 : Number(mean);
}

// The stand-in voice is a 6 kHz tone; the library's music lives mostly below 2.5 kHz. A steep low-pass
// keeps the music and removes the tone, so the music's own level can be read while the "voice" speaks.
const MUSIC_ONLY = 'lowpass=f=2500,lowpass=f=2500,lowpass=f=2500,lowpass=f=2500';

describe('music: the mood and the track', () => {
  it('reads the mood from the words, calm when nothing stands out', () => {
    assert.equal(moodFromWords('The history of ancient Rome, from the old republic to the empire'), 'nostalgic');
    assert.equal(moodFromWords('Our startup launch: fast, exciting, powered by new tech'), 'energetic');
    assert.equal(moodFromWords('Happy birthday! A party with friends and fun for the kids'), 'happy');
    assert.equal(moodFromWords('A thank you to my mother, with love from the whole family'), 'tender');
    assert.equal(moodFromWords('Why is the sky blue? Sunlight scatters in the air.'), 'calm');
  });

  it('picks a track of the mood by the narration: the same words keep the same track', () => {
    const track = pickTrack('energetic', 'a video about rockets');
    assert.equal(track.mood, 'energetic');
    assert.ok(existsSync(track.file), track.file);
    assert.match(track.name, /^energetic_/);
    assert.equal(track.label, `"${track.name}" (immich-memories-music, MIT)`);
    assert.deepEqual(pickTrack('energetic', 'a video about rockets'), track);
    const names = new Set(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((key) => pickTrack('happy', key).name));
    assert.ok(names.size >= 3, `eight videos got only ${names.size} different happy tracks`);
  });
});

describe('music: in the clip', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let scenes: SceneInput[];
  before(async () => {
    ({ dir, remove } = await makeTempDir('spinbot-music-'));
    const image = await makeImage(join(dir, 'still.png'), 'testsrc2=s=1280x720');
    // Three 4 s scenes; in each the "voice" speaks for 2 s and then pauses.
    const voice = join(dir, 'voice.wav');
    await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=f=6000:d=2:sample_rate=48000', '-af', 'volume=-6dB', voice]);
    scenes = [1, 2, 3].map((n) => ({ imagePath: image, audioPath: voice, seconds: 4, narration: `Scene ${n} of a calm explainer about the sea.`, audioSeconds: 2 }));
  });
  after(() => remove());

  it('is ducked while the narration speaks, comes back in the pauses, and fades in and out', async () => {
    const clip = await assembleClip({ scenes, outPath: join(dir, 'music.mp4'), workDir: dir, music: 'calm' });
    assert.match(clip.music?.label ?? '', /^"calm_\w+" \(immich-memories-music, MIT\)$/);
    const file = clip.outPath;
    const underSpeech = windowVolumeDb(file, 4.6, 5.8, MUSIC_ONLY); // scene 2, the voice speaking
    const inPause = windowVolumeDb(file, 6.6, 7.9, MUSIC_ONLY); // scene 2, after it
    assert.ok(inPause > -42, `music in the pause at ${inPause} dB: not audible`);
    assert.ok(underSpeech > -65, `music under the narration at ${underSpeech} dB: gone, not ducked`);
    assert.ok(inPause - underSpeech >= 6, `music only ${(inPause - underSpeech).toFixed(1)} dB lower under the narration`);
    assert.ok(windowVolumeDb(file, 0, 0.3, MUSIC_ONLY) < windowVolumeDb(file, 2.6, 3.9, MUSIC_ONLY) - 6, 'no fade-in');
    assert.ok(windowVolumeDb(file, 11.6, 11.95, MUSIC_ONLY) < inPause - 6, 'no fade-out');
  });

  it('true takes the mood from the narration; without the library the clip says why it has none', async () => {
    const moody = scenes.map((scene) => ({ ...scene, narration: 'Happy birthday! A party full of fun.' }));
    const clip = await assembleClip({ scenes: moody, outPath: join(dir, 'happy.mp4'), workDir: dir, music: true });
    assert.equal(clip.music?.mood, 'happy');

    const saved = process.env.SPINBOT_MODEL_CACHE;
    process.env.SPINBOT_MODEL_CACHE = join(dir, 'empty-cache');
    try {
      const bare = await assembleClip({ scenes, outPath: join(dir, 'bare.mp4'), workDir: dir, music: true });
      assert.equal(bare.music, undefined);
      assert.match(bare.musicMissing ?? '', /music library is not fetched \(run: node setup\/models\.mjs fetch music\)/);
      assert.ok(windowVolumeDb(bare.outPath, 6.6, 7.9) < -70, 'the pauses are silent without music');
    } finally {
      if (saved === undefined) delete process.env.SPINBOT_MODEL_CACHE;
      else process.env.SPINBOT_MODEL_CACHE = saved;
    }
  });

  it('refuses a mood the library does not have, before running ffmpeg', async () => {
    await assert.rejects(
      assembleClip({ scenes, outPath: join(dir, 'x.mp4'), workDir: dir, music: 'spooky' as never }),
      /music is true, false or a mood \(calm, energetic, happy, nostalgic, tender\)/,
    );
    assert.ok(!existsSync(join(dir, 'x.mp4')));
  });
});
