// The Ollama provider (@langchain/ollama ChatOllama) against the protocol emulator in
// tests/emulators/ollama.ts: a plan comes back, and the two set-up mistakes read as UserErrors.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ScriptPlan } from '../../gpu-bridge/contracts/index.ts';
import { planVideo } from '../../agent/graph.ts';
import { createChatModel } from '../../agent/llm/index.ts';
import { isUserError } from '../../pipeline/errors.ts';
import { startOllamaEmulator, type OllamaEmulator } from '../emulators/ollama.ts';

const SKY = 'a 20 second explainer about why the sky is blue';

async function userErrorOf(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    assert.ok(isUserError(error), `expected a UserError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a UserError');
}

/** A local port with nothing listening on it. */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

describe('Ollama provider', () => {
  let ollama: OllamaEmulator;
  before(async () => {
    ollama = await startOllamaEmulator({ models: ['qwen2.5:7b-instruct', 'llama3:latest'], brokenModels: ['gone:1b'] });
  });
  after(async () => {
    await ollama.close();
  });

  test('OLLAMA_BASE_URL selects ChatOllama with the default model', () => {
    const llm = createChatModel({ OLLAMA_BASE_URL: ollama.url });
    assert.equal(llm.label, 'ollama qwen2.5:7b-instruct');
    assert.equal(llm.model._llmType(), 'ollama');
    assert.equal(createChatModel({ OLLAMA_BASE_URL: ollama.url, OLLAMA_MODEL: 'llama3' }).label, 'ollama llama3');
  });

  test('a plan comes back through ChatOllama, with the JSON schema sent as Ollama `format`', async () => {
    const llm = createChatModel({ OLLAMA_BASE_URL: ollama.url });
    const before = ollama.chatRequests.length;
    const plan = await planVideo({ prompt: SKY }, llm);

    ScriptPlan.parse(plan);
    assert.equal(plan.title, 'A plan from the Ollama emulator');
    assert.equal(plan.scenes.length, 4);
    assert.equal(plan.scenes.reduce((n, s) => n + s.seconds, 0), 20);
    assert.equal(plan.scenes[1]!.narration, 'This is scene number 2 of the emulated plan.');

    const [request] = ollama.chatRequests.slice(before);
    assert.equal(request!.model, 'qwen2.5:7b-instruct');
    assert.equal(request!.stream, true);
    const format = request!.format as { properties: { scenes: { minItems: number; maxItems: number } } };
    assert.equal(format.properties.scenes.minItems, 4);
    assert.equal(format.properties.scenes.maxItems, 4);
    assert.ok(!JSON.stringify(format).includes('maxLength'), 'length bounds stay out of the grammar (enforced in code)');
    assert.ok(typeof request!.options?.num_predict === 'number', 'maxTokens reaches Ollama as num_predict');
    assert.equal(request!.messages[0]!.role, 'system');
    assert.match(request!.messages.at(-1)!.content, /why the sky is blue/);
    assert.ok(ollama.log.includes('GET /api/tags'), 'reachability and model checked first');
  });

  test('"llama3" matches the installed "llama3:latest"', async () => {
    const llm = createChatModel({ OLLAMA_BASE_URL: ollama.url, OLLAMA_MODEL: 'llama3' });
    const plan = await planVideo({ prompt: SKY }, llm);
    assert.equal(plan.scenes.length, 4);
  });

  test('an unreachable URL -> llm.unreachable, naming the URL and `ollama serve`', async () => {
    const url = await closedPortUrl();
    const error = await userErrorOf(planVideo({ prompt: SKY }, createChatModel({ OLLAMA_BASE_URL: url })));
    assert.equal(error.id, 'llm.unreachable');
    assert.equal(
      error.message,
      `Ollama is not reachable at ${url}. Start it with \`ollama serve\`, or unset OLLAMA_BASE_URL to use the built-in model.`,
    );
  });

  test('a model that is not pulled -> llm.modelMissing with the pull command, and no chat call', async () => {
    const before = ollama.chatRequests.length;
    const llm = createChatModel({ OLLAMA_BASE_URL: ollama.url, OLLAMA_MODEL: 'mistral:7b' });
    const error = await userErrorOf(planVideo({ prompt: SKY }, llm));
    assert.equal(error.id, 'llm.modelMissing');
    assert.equal(error.message, 'The model mistral:7b is not installed in Ollama. Run `ollama pull mistral:7b`.');
    assert.equal(ollama.chatRequests.length, before);
  });

  test("Ollama's own 404 during a chat reads as the same llm.modelMissing", async () => {
    const llm = createChatModel({ OLLAMA_BASE_URL: ollama.url, OLLAMA_MODEL: 'gone:1b' });
    const error = await userErrorOf(planVideo({ prompt: SKY }, llm));
    assert.equal(error.id, 'llm.modelMissing');
    assert.match(error.message, /ollama pull gone:1b/);
  });

  test('the emulator answers non-streaming requests with one JSON object', async () => {
    const response = await fetch(`${ollama.url}/api/chat`, {
      method: 'POST',
      body: JSON.stringify({ model: 'qwen2.5:7b-instruct', messages: [{ role: 'user', content: 'hi' }], stream: false }),
    });
    const body = (await response.json()) as { done: boolean; message: { role: string; content: string }; eval_count: number };
    assert.equal(body.done, true);
    assert.equal(body.message.role, 'assistant');
    assert.ok(body.message.content.length > 0 && body.eval_count > 0);
  });
});
