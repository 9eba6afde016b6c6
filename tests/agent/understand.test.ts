// How the planner reads a request before any model is involved: lengths, scene counts, topics.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LIMITS } from '../../gpu-bridge/contracts/index.ts';
import { parseDurationSeconds, sceneCountFor, topicOf, understandRequest } from '../../agent/nodes/understand.ts';

test('durations written in the prompt are understood', () => {
  const cases: [string, number][] = [
    ['a 20 second explainer about why the sky is blue', 20],
    ['make a 20s clip about cats', 20],
    ['a 30-second ad for my bakery', 30],
    ['a 1 minute video about tides', 60],
    ['90 sec on how rust borrows', 90],
    ['thirty seconds about owls', 30],
    ['half a minute on dogs', 30],
    ['a minute-long video on tea', 60],
    ['1.5 minutes on mars', 90],
    ['a 2 min explainer of DNS', 120],
    ['a 1 minute 30 seconds tour of Rome', 90],
    ['15 SECONDS about the moon', 15],
  ];
  for (const [text, seconds] of cases) assert.equal(parseDurationSeconds(text), seconds, text);
});

test('numbers that are not lengths are left alone', () => {
  for (const text of [
    'a video about the 80s',
    '80s music in five scenes',
    'the history of the 1920s',
    'wait a second, a video about bees',
    'a second video about bees',
    'why 3 is a prime number',
  ]) {
    assert.equal(parseDurationSeconds(text), undefined, text);
  }
});

test('the default length is 30 s in 6 scenes; a length in the prompt is used', () => {
  const plain = understandRequest({ prompt: 'why the sky is blue' });
  assert.equal(plain.seconds, 30);
  assert.equal(plain.sceneCount, 6);
  assert.equal(understandRequest({ prompt: 'a 20 second explainer about why the sky is blue' }).seconds, 20);
  // an explicit option wins over the text
  assert.equal(understandRequest({ prompt: 'a 20 second explainer', seconds: 40 }).seconds, 40);
});

test('scenes run about 4-6 s each and never exceed the caps', () => {
  for (let seconds = LIMITS.minSeconds; seconds <= LIMITS.maxSeconds; seconds++) {
    const count = sceneCountFor(seconds);
    assert.ok(count >= 1 && count <= LIMITS.maxScenes, `${seconds}s -> ${count}`);
    assert.ok(seconds / count >= LIMITS.minSceneSeconds && seconds / count <= LIMITS.maxSceneSeconds, `${seconds}s -> ${count}`);
    if (seconds <= LIMITS.maxScenes * 5) assert.ok(seconds / count >= 3.5 && seconds / count <= 7, `${seconds}s -> ${count}`);
  }
  assert.equal(sceneCountFor(20), 4);
  assert.equal(sceneCountFor(180), LIMITS.maxScenes);
});

test('the topic drops the length and the "make a video about" words', () => {
  assert.equal(topicOf('a 20 second explainer about why the sky is blue'), 'why the sky is blue');
  assert.equal(topicOf('Make me a short 30-second video on how bees make honey'), 'how bees make honey');
  assert.equal(topicOf('half a minute about dogs'), 'dogs');
  assert.equal(topicOf('volcanoes'), 'volcanoes');
});

test('fractional seconds are rounded to whole seconds so that scene lengths add up', () => {
  const brief = understandRequest({ prompt: 'cats', seconds: 12.6 });
  assert.equal(brief.seconds, 13);
});

test('negative, zero, absurd and unreadable lengths are refused with the allowed range, wherever written', () => {
  const range = new RegExp(`${LIMITS.minSeconds} to ${LIMITS.maxSeconds} seconds`);
  const refused: [string, RegExp][] = [
    ['-5 seconds', /you asked for -5\./],
    ['a −5 second video about cats', /you asked for -5\./],
    ['minus 10 seconds about owls', /you asked for -10\./],
    ['0 seconds about cats', /you asked for 0\./],
    ['5 hours', /you asked for 18000 \(5 hours\)/],
    ['an hour-long video on tea', /you asked for 3600\./],
    ['a 10 minute video about volcanoes', /you asked for 600\./],
    ['seconds=-5 cats', /you asked for -5\./],
    ['ｓｅｃｏｎｄｓ＝－５ cats', /you asked for -5\./],
    ['cats seconds=abc', /"abc" is not a length/],
    ['cats seconds=0x10', /"0x10" is not a length/],
    ['--seconds 999 cats', /you asked for 999\./],
    ['1e9 seconds about bees', /"1e9 seconds" is not a length/],
    ['Infinity seconds of bees', /"Infinity seconds" is not a length/],
  ];
  for (const [prompt, sentence] of refused) {
    assert.throws(() => understandRequest({ prompt }), (error: Error & { id?: string }) => {
      assert.equal(error.id, 'seconds.outOfRange', prompt);
      assert.match(error.message, range, prompt);
      assert.match(error.message, sentence, prompt);
      return true;
    });
  }
  for (const seconds of [-5, 0, 4.4, 181, Number.NaN, Number.POSITIVE_INFINITY, '20' as unknown as number]) {
    assert.throws(() => understandRequest({ prompt: 'cats', seconds }), { id: 'seconds.outOfRange', message: range }, String(seconds));
  }
});

test('a length written as an option or between dashes is read; topics with hours are not lengths', () => {
  assert.equal(understandRequest({ prompt: 'cats seconds=20' }).seconds, 20);
  assert.equal(understandRequest({ prompt: '--seconds 12 cats' }).topic, 'cats');
  assert.equal(understandRequest({ prompt: 'cats - 20 seconds' }).seconds, 20);
  assert.equal(understandRequest({ prompt: '24 hours in Tokyo' }).seconds, 30);
  assert.equal(understandRequest({ prompt: 'the first 3 hours of the Titanic sinking' }).seconds, 30);
});

test('text is normalised before any check: invisible-only prompts are empty, styled letters are plain', () => {
  for (const prompt of ['\u200B\u200C\u200D\uFEFF', '\u202E\u2066\u2069', '\u0000\u0007\u001B', '\u3164\u3164', ' \n\t ', '!!! ...', '\u{E0041}\u{E0042}']) {
    assert.throws(() => understandRequest({ prompt }), { id: 'prompt.empty', message: /what the video should be about/ }, JSON.stringify(prompt));
  }
  const brief = understandRequest({ prompt: '\u202Eａ　２０　ｓｅｃｏｎｄ\u200B video   about\n\ncats' });
  assert.equal(brief.prompt, 'a 20 second video about cats');
  assert.equal(brief.seconds, 20);
  assert.equal(brief.topic, 'cats');
  // Length is judged on what a person sees: 3000 zero-width spaces and a word are a short prompt.
  assert.equal(understandRequest({ prompt: `${'\u200B'.repeat(3000)}owls` }).prompt, 'owls');
});

test('a change of length is read by the same rule: signs kept, what cannot be a length refused', () => {
  assert.equal(parseDurationSeconds('make it -5 seconds'), -5);
  assert.equal(parseDurationSeconds('make it seconds=20'), 20);
  assert.throws(() => parseDurationSeconds('make it 1e9 seconds'), { id: 'seconds.outOfRange', message: /"1e9 seconds" is not a length/ });
  assert.throws(() => parseDurationSeconds('make it seconds=-5'), { id: 'seconds.outOfRange', message: /you asked for -5\./ });
});
