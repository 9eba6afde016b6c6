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
import { probeMedia } from '../../media/probe.ts';
import { makeImage, makeTempDir, speak } from './fixtures.ts';

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
// And the other way round: the tone, with what little music there is above 5 kHz.
const VOICE_ONLY = 'highpass=f=5000,highpass=f=5000,highpass=f=5000,highpass=f=5000';

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

const PAUSE = 0.4;
const TRIM_SILENCE = 'silenceremove=start_periods=1:start_threshold=-50dB';

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

  it('is ducked while the narration speaks, comes back in the pauses, and fades in and out', async (t) => {
    const clip = await assembleClip({ scenes, outPath: join(dir, 'music.mp4'), workDir: dir, music: 'calm' });
    assert.match(clip.music?.label ?? '', /^"calm_\w+" \(immich-memories-music, MIT\)$/);
    const file = clip.outPath;
    const underSpeech = windowVolumeDb(file, 4.6, 5.8, MUSIC_ONLY); // scene 2, the voice speaking
    const inPause = windowVolumeDb(file, 6.6, 7.9, MUSIC_ONLY); // scene 2, after it
    assert.ok(inPause > -42, `music in the pause at ${inPause} dB: not audible`);
    assert.ok(underSpeech > -65, `music under the narration at ${underSpeech} dB: gone, not ducked`);
    assert.ok(inPause - underSpeech >= 6, `music only ${(inPause - underSpeech).toFixed(1)} dB lower under the narration`);
    const voice = windowVolumeDb(file, 4.6, 5.8, VOICE_ONLY);
    t.diagnostic(`music ${underSpeech} dB under the voice (${voice} dB), ${inPause} dB in the pause`);
    assert.ok(voice - underSpeech >= 18, `the music is only ${(voice - underSpeech).toFixed(1)} dB under the voice while it speaks`);
    assert.ok(windowVolumeDb(file, 0, 0.3, MUSIC_ONLY) < windowVolumeDb(file, 2.6, 3.9, MUSIC_ONLY) - 6, 'no fade-in');
    assert.ok(windowVolumeDb(file, 11.6, 11.95, MUSIC_ONLY) < inPause - 6, 'no fade-out');
  });

  it('is heard at its full level in the 0.4 s pause between two spoken sentences, as the tts stage joins them', async (t) => {
    // Two sentences spoken by espeak-ng, each cut to its speech and joined with 0.4 s of silence (the
    // tts stage's 0.3 s pause plus 0.05 s kept at each edge), then 5 s without narration.
    const trimmed = await Promise.all(
      ['Sunlight looks white, but it carries every colour of the rainbow.', 'Blue light is scattered far more than red light.'].map(async (text, n) => {
        const raw = await speak(join(dir, `sentence-${n}.wav`), text);
        const cut = join(dir, `sentence-${n}-cut.wav`);
        await run('ffmpeg', ['-v', 'error', '-y', '-i', raw, '-af', `${TRIM_SILENCE},areverse,${TRIM_SILENCE},areverse`, '-ar', '48000', cut]);
        return { file: cut, seconds: (await probeMedia(cut)).durationSeconds };
      }),
    );
    const [first, second] = trimmed as [{ file: string; seconds: number }, { file: string; seconds: number }];
    const voice = join(dir, 'two-sentences.wav');
    await run('ffmpeg', ['-v', 'error', '-y', '-i', first.file, '-i', second.file, '-filter_complex', `[0:a]apad=pad_dur=${PAUSE}[a];[a][1:a]concat=n=2:v=0:a=1`, voice]);
    const spoken = first.seconds + PAUSE + second.seconds;
    const sentences = [
      { text: 'Sunlight looks white, but it carries every colour of the rainbow.', start: 0, end: first.seconds },
      { text: 'Blue light is scattered far more than red light.', start: first.seconds + PAUSE, end: spoken },
    ];
    const narration = sentences.map((sentence) => sentence.text).join(' ');
    const clip = await assembleClip({
      scenes: [{ imagePath: scenes[0]!.imagePath, audioPath: voice, seconds: spoken + 5, narration, audioSeconds: spoken, sentences }],
      outPath: join(dir, 'sentences.mp4'),
      workDir: dir,
      music: 'calm',
    });
    const track = clip.music?.file;
    assert.ok(track, 'no music in the clip');
    // The clip's music against the track itself at the same moments: the track is louder or quieter from
    // moment to moment, so the ducking is what the clip lost in the pause beyond what it lost in the gap.
    const MONO = 'aformat=channel_layouts=mono';
    const lossDb = (start: number, end: number) => windowVolumeDb(track, start, end, MONO) - windowVolumeDb(clip.outPath, start, end);
    const pause = { start: first.seconds + 0.05, end: first.seconds + PAUSE - 0.05 };
    const gap = { start: spoken + 0.6, end: spoken + 2.4 };
    const inPause = windowVolumeDb(clip.outPath, pause.start, pause.end);
    const duckedInPause = lossDb(pause.start, pause.end) - lossDb(gap.start, gap.end);
    t.diagnostic(`sentence pause: music at ${inPause} dB, ${duckedInPause.toFixed(1)} dB under its level without narration`);
    assert.ok(inPause > -42, `music in the sentence pause at ${inPause} dB: not audible`);
    assert.ok(duckedInPause <= 6, `music still ${duckedInPause.toFixed(1)} dB down in the pause between sentences (0 = its level without narration)`);
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
