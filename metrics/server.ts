// The HTTP endpoint Prometheus scrapes: GET /metrics (the registry in text format) and GET /healthz
// (200 {"ok":true,...} or 503 {"ok":false,...}, for container health checks). Off unless a port is
// configured, so that tests and several local processes do not fight over one port.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics } from 'prom-client';
import { registry } from './index.ts';

export interface MetricsSettings {
  /** 0: any free port (tests read the bound one from MetricsServer.url). */
  port: number;
  host: string;
}

/** SPINBOT_METRICS_PORT (unset or empty: no server) and SPINBOT_METRICS_HOST (default 127.0.0.1). */
export function metricsSettings(env: Record<string, string | undefined>): MetricsSettings | null {
  const raw = env.SPINBOT_METRICS_PORT?.trim();
  if (!raw) return null;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) {
    throw new Error(`SPINBOT_METRICS_PORT must be a port number (0-65535; 0 picks a free one), got "${raw}".`);
  }
  return { port, host: env.SPINBOT_METRICS_HOST?.trim() || '127.0.0.1' };
}

export interface Health {
  ok: boolean;
  [detail: string]: unknown;
}

export interface MetricsServer {
  /** e.g. http://127.0.0.1:9464 */
  url: string;
  close(): Promise<void>;
}

let defaultMetricsOn = false;

export async function startMetricsServer(
  settings: MetricsSettings,
  health: () => Promise<Health>,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<MetricsServer> {
  if (!defaultMetricsOn) {
    // Process CPU, memory, event-loop lag, under the same prefix; only in processes that serve them.
    collectDefaultMetrics({ register: registry, prefix: 'spinbot_' });
    defaultMetricsOn = true;
  }
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const reply = (status: number, type: string, body: string) => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      response.end(request.method === 'HEAD' ? undefined : body);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') return reply(405, 'text/plain', 'GET only\n');
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => reply(200, registry.contentType, text),
        (error: Error) => reply(500, 'text/plain', `metrics collection failed: ${error.message}\n`),
      );
    } else if (path === '/healthz') {
      health().then(
        (result) => reply(result.ok ? 200 : 503, 'application/json', JSON.stringify(result)),
        (error: Error) => reply(503, 'application/json', JSON.stringify({ ok: false, error: error.message })),
      );
    } else {
      reply(404, 'text/plain', 'Not found: try /metrics or /healthz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new Error(`Cannot serve metrics on ${settings.host}:${settings.port} (SPINBOT_METRICS_PORT): ${error.message}`, { cause: error })),
    );
    server.listen(settings.port, settings.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  log(`metrics: serving /metrics and /healthz on ${url}`);
  let closing: Promise<void> | undefined;
  return {
    url,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Prometheus keeps its connection alive between scrapes: without this, close() waits for it.
        server.closeAllConnections();
      })),
  };
}
