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
