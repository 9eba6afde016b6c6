// Shared pieces of the HTTP API tests: the real server on a real studio (private redis, the Python
// worker on CPU backends, ffmpeg), two keys with their owners, and a small client over fetch that
// reads Server-Sent Events.
import { after } from 'node:test';
import { parseApiKeys } from '../../api/config.ts';
import { startApiServer, type ApiServer } from '../../api/server.ts';
import type { Studio } from '../../pipeline/studio.ts';
import { fakePlanner, sharedStudio } from '../channel/fixtures.ts';

export const KEYS = { alice: 'alice-key-0123456789abcdef', bob: 'bob-key-0123456789abcdef00' } as const;

export interface TestApi {
  api: ApiServer;
  studio: Studio;
  planner: ReturnType<typeof fakePlanner>;
  /** fetch against the server with `who`'s key (none: no key at all). */
  call(who: keyof typeof KEYS | null, path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
}

/** One studio and one API server for every test of a file. */
export async function sharedApi(env: Record<string, string> = {}): Promise<TestApi> {
  const studio = await sharedStudio();
  const planner = fakePlanner({ seconds: 6 });
  const api = await startApiServer(
    { studio, planner, config: { SPINBOT_MAX_RUNNING_JOBS: '1', SPINBOT_DAILY_JOBS: '0', SPINBOT_MAX_UPLOAD_MB: '1', ...env }, log: () => {} },
    { port: 0, host: '127.0.0.1', keys: parseApiKeys(`alice:${KEYS.alice},bob:${KEYS.bob}`, 'test keys'), bodyLimitBytes: 64 * 1024 },
  );
  after(() => api.stop());
  const call: TestApi['call'] = (who, path, init = {}) => {
    const { json, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (who) headers.set('authorization', `Bearer ${KEYS[who]}`);
    if (json !== undefined) headers.set('content-type', 'application/json');
    return fetch(`${api.url}${path}`, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body });
  };
  return { api, studio, planner, call };
}

export interface ServerEvent {
  name: string;
  data: any;
}

/** Reads a Server-Sent Events stream until it ends (or `stopWhen` says so); calls `onEvent` for each. */
export async function readEvents(response: Response, onEvent: (event: ServerEvent) => void | Promise<void> = () => {}): Promise<ServerEvent[]> {
  const events: ServerEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body!) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const name = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (!name || data === undefined) continue; // a keep-alive comment
      const event = { name, data: JSON.parse(data) };
      events.push(event);
      await onEvent(event);
    }
  }
  return events;
}

/** Polls GET /v1/videos/{id} until its status is one of `statuses`. */
export async function waitForStatus(call: TestApi['call'], id: string, statuses: string[], timeoutMs = 240_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const video = await (await call('alice', `/v1/videos/${id}`)).json();
    if (statuses.includes(video.status)) return video;
    if (Date.now() > deadline) throw new Error(`video ${id} stayed ${video.status}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}
