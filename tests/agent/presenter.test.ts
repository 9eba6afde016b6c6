// Presenter and motion words in a request, how the plan marks its scenes, and what the plan shown says.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ScriptPlan } from '../../gpu-bridge/contracts/index.ts';
import { formatPlan } from '../../bot/format.ts';
import { stageScenes } from '../../agent/nodes/presenter.ts';
import { parseMotion, parsePresenter, understandRequest } from '../../agent/nodes/understand.ts';
import { revisePlan } from '../../agent/conversation/revise.ts';
import { ruleIntent } from '../../agent/conversation/route.ts';
import { handWrittenPlan } from '../e2e/helpers.ts';

test('presenter and motion words are read from a request', () => {
  assert.equal(parsePresenter('make a video about tea and present it yourself'), 'me');
  assert.equal(parsePresenter('a clip about bees, presented by me'), 'me');
  assert.equal(parsePresenter('explain volcanoes with the presenter'), 'character');
  assert.equal(parsePresenter('same again but no presenter'), 'none');
  assert.equal(parsePresenter('a video about the presenter of a TV show'), undefined);
  assert.equal(parseMotion('a video about waves with motion'), true);
  assert.equal(parseMotion('no motion please'), false);
  assert.equal(parseMotion('a video about motion sickness'), undefined);
});

test('"present it yourself" without a photo is one sentence asking for one; with a photo the brief carries it', () => {
  assert.throws(() => understandRequest({ prompt: 'a video about tea, present it yourself' }), (error: Error & { id?: string }) => {
    assert.equal(error.id, 'presenter.noPhoto');
    assert.match(error.message, /send me a clear, front-facing photo/);
    return true;
  });
  const brief = understandRequest({ prompt: 'a video about tea, present it yourself', presenterKey: 'users/telegram/42/presenter.png' });
  assert.equal(brief.presenter, 'me');
  assert.equal(brief.presenterKey, 'users/telegram/42/presenter.png');
  assert.equal(understandRequest({ prompt: 'tea, with the presenter and with motion' }).motion, true);
});

test('the plan marks presenter scenes and at most the capped number of moving scenes, and the plan shown says which', () => {
  const plan = handWrittenPlan(30, 6);
  const staged = ScriptPlan.parse(stageScenes(plan, { presenter: 'me', presenterKey: 'users/telegram/42/presenter.png', motion: true }, 2));
  assert.deepEqual(staged.scenes.map((s) => s.presenter), ['full', 'corner', 'corner', 'corner', 'corner', 'corner']);
  assert.equal(staged.scenes.filter((s) => s.motion).length, 2);
  assert.notEqual(staged.scenes[0]!.motion, true, 'a full-frame presenter scene does not also move');
  assert.equal(staged.presenterKey, 'users/telegram/42/presenter.png');
  const shown = formatPlan(staged);
  assert.match(shown, /Presenter: you, from your photo in scenes 1, 2, 3, 4, 5, 6/);
  assert.match(shown, /Motion: scenes \d, \d move/);
  assert.match(shown, /1\. \(5 s\) \[presenter\]/);

  const character = stageScenes(plan, { presenter: 'character', motion: false });
  assert.equal(character.presenterKey, undefined);
  assert.match(formatPlan(character), /Presenter: the built-in character/);
  const none = stageScenes(plan, { presenter: 'none', motion: true }, 0);
  assert.ok(none.scenes.every((s) => s.presenter === undefined && s.motion === undefined), 'a cap of 0 moves nothing');
  assert.doesNotMatch(formatPlan(none), /Presenter|Motion/);
});

test('a change on a plan shown: "with the presenter", "with motion" and "no presenter" restage it without a model call', async () => {
  const plan = handWrittenPlan(10, 2);
  const request = { prompt: 'a 10 second video about why the sky is blue', seconds: 10 };
  const noModel = { model: undefined as never, plan: async () => assert.fail('no re-plan for a presenter change') };
  assert.equal(ruleIntent('with the presenter', { pending: { plan } } as never)?.tool, 'refine_video');
  const withPresenter = await revisePlan({ plan, request }, 'with the presenter', undefined, noModel);
  assert.deepEqual(withPresenter.plan.scenes.map((s) => s.presenter), ['full', 'corner']);
  assert.deepEqual(withPresenter.changed, [0, 1], 'both scenes are made again');
  const moving = await revisePlan({ plan: withPresenter.plan, request: withPresenter.request }, 'with motion', undefined, noModel);
  assert.deepEqual(moving.plan.scenes.map((s) => [s.presenter, Boolean(s.motion)]), [['full', false], ['corner', true]]);
  const mine = await revisePlan({ plan, request }, 'present it yourself', undefined, { ...noModel, defaults: { presenterKey: 'users/telegram/42/presenter.png' } });
  assert.equal(mine.plan.presenterKey, 'users/telegram/42/presenter.png');
  const none = await revisePlan({ plan: withPresenter.plan, request: withPresenter.request }, 'no presenter', undefined, noModel);
  assert.ok(none.plan.scenes.every((s) => s.presenter === undefined));
});
