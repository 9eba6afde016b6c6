// What `npm start` calls: the HTTP API beside the chat or console front-end when SPINBOT_API_PORT is
// set. The server (Fastify and its routes) is loaded only then.
import type { FrontEnd, FrontEndDeps } from '../bot/frontends.ts';
import type { ApiSettings } from './config.ts';

export { loadApiSettings } from './config.ts';

export async function startApi(deps: FrontEndDeps, settings: ApiSettings): Promise<FrontEnd & { url: string }> {
  const { startApiServer } = await import('./server.ts');
  const api = await startApiServer(deps, settings);
  // The owners only: keys are never printed.
  process.stderr.write(`HTTP API: ${api.url} (keys for ${settings.keys.owners.join(', ')}; docs at ${api.url}/docs)\n`);
  return api;
}
