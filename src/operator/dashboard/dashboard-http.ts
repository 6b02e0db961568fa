/**
 * The dashboard's HTTP adapter: routes, access checks, the live stream (server-sent events) and the bundled page,
 * over a backend that does the work. The only importer of hono and @hono/node-server. Nothing here reads a file: the
 * page is served from memory and uploads go to the backend as bytes, so no URL can name a path on disk.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { streamSSE } from 'hono/streaming';
import type { Logger } from '../../agent/logger.js';
import { DEVICE_ID_PATTERN } from '../../config/agent-config-schema.js';
import { SHA256_PATTERN } from '../../transport/topics.js';
import { EdgetuneError, errorCodeOf, exitCodeFor, messageOf } from '../../util/errors.js';
import { checkAccess, PAGE_HEADER, TOKEN_COOKIE } from './dashboard-access.js';
import type { LiveEvent } from './dashboard.js';
import { MAX_UPLOAD_BYTES, type PushRunView, type PushSubmission } from './dashboard-pushes.js';
import type { DeviceView, FleetView, ModelListEntry, ModelView, RolloutListEntry, RolloutView } from './dashboard-views.js';

/** The bundled page, held in memory. */
export interface DashboardAssets {
  indexHtml: Buffer;
  appJs: Buffer;
  appCss: Buffer;
}

/** What the HTTP adapter asks of the dashboard. */
export interface DashboardBackend {
  summary(): { broker: { url: string; connected: boolean }; signed: boolean; dataDir: string; resyncing: string[] };
  fleet(): FleetView;
  device(deviceId: string): DeviceView | null;
  models(): ModelListEntry[];
  model(sha256: string): ModelView | null;
  rollouts(): RolloutListEntry[];
  rollout(rolloutId: string): RolloutView | null;
  pushes(): PushRunView[];
  datasets(): string[];
  submitPush(s: PushSubmission): PushRunView;
  resync(deviceId: string): void;
  subscribe(listener: (e: LiveEvent) => void): () => void;
}

/** Caller input for {@link listenDashboard}. */
export interface DashboardHttpOptions {
  host: string;
  port: number;
  /** Null: bound to loopback, no token. */
  token: string | null;
  assets: DashboardAssets;
  backend: DashboardBackend;
  log: Logger;
}

/** A listening dashboard server. */
export interface DashboardHttpServer {
  port: number;
  close(): Promise<void>;
}

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

/** Rollout ids as `edgetune rollout --rollout-id` accepts them. */
const ROLLOUT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

/** The Hono app of the dashboard (exported for tests that drive it without a socket). */
export function dashboardApp(o: Omit<DashboardHttpOptions, 'host' | 'port'>): Hono {
  const app = new Hono();
  const log = o.log;

  app.use('*', async (c, next) => {
    const url = new URL(c.req.url);
    const verdict = checkAccess(
      {
        method: c.req.method,
        host: c.req.header('host') ?? null,
        origin: c.req.header('origin') ?? null,
        cookie: c.req.header('cookie') ?? null,
        authorization: c.req.header('authorization') ?? null,
        queryToken: url.searchParams.get('token'),
        pageHeader: c.req.header(PAGE_HEADER) ?? null,
      },
      { token: o.token },
    );
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.header(k, v);
    if (!verdict.ok) {
      log.warn(`refused ${c.req.method} ${url.pathname}: ${verdict.message} [${verdict.code}]`);
      if (url.pathname.startsWith('/api/') || !(c.req.header('accept') ?? '').includes('text/html')) {
        return c.json(errorBody(verdict.code, verdict.message), verdict.status);
      }
      return c.html(`<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>edgetune dashboard: refused</title><body style="font-family:sans-serif;margin:2em"><h1>Refused</h1><p>${escapeHtml(verdict.message)}</p><p><code>${verdict.code}</code></p>`, verdict.status);
    }
    if (verdict.tokenFromQuery && c.req.method === 'GET' && !url.pathname.startsWith('/api/')) {
      // The token moves into an HttpOnly cookie and out of the address bar (and out of the browser history).
      c.header('Set-Cookie', `${TOKEN_COOKIE}=${encodeURIComponent(url.searchParams.get('token') as string)}; HttpOnly; SameSite=Strict; Path=/`);
      url.searchParams.delete('token');
      return c.redirect(`${url.pathname}${url.search}`, 303);
    }
    await next();
  });

  app.onError((error, c) => {
    const code = errorCodeOf(error);
    const status = exitCodeFor(error) === 2 ? 400 : 500;
    if (status === 500) log.error(`${c.req.method} ${new URL(c.req.url).pathname}: ${messageOf(error)} [${code}]`);
    else log.warn(`${c.req.method} ${new URL(c.req.url).pathname}: ${messageOf(error)} [${code}]`);
    return c.json(errorBody(code, messageOf(error)), status);
  });

  const asset = (body: Buffer, type: string) => (c: Context) => {
    c.header('Content-Type', type);
    c.header('Cache-Control', 'no-cache');
    return c.body(new Uint8Array(body));
  };
  app.get('/', asset(o.assets.indexHtml, 'text/html; charset=utf-8'));
  app.get('/assets/app.js', asset(o.assets.appJs, 'text/javascript; charset=utf-8'));
  app.get('/assets/app.css', asset(o.assets.appCss, 'text/css; charset=utf-8'));

  app.get('/api/summary', (c) => c.json(o.backend.summary()));
  app.get('/api/fleet', (c) => c.json(o.backend.fleet()));
  app.get('/api/devices/:id', (c) => {
    const id = c.req.param('id');
    if (!DEVICE_ID_PATTERN.test(id)) return c.json(errorBody('USAGE', `device id '${id}' must match [A-Za-z0-9_-]{1,64}`), 400);
    const view = o.backend.device(id);
    return view ? c.json(view) : c.json(errorBody('USAGE', `no device '${id}' in this operator store`), 404);
  });
  app.get('/api/models', (c) => c.json({ models: o.backend.models() }));
  app.get('/api/models/:sha', (c) => {
    const sha = c.req.param('sha');
    if (!SHA256_PATTERN.test(sha)) return c.json(errorBody('USAGE', `model '${sha}' must be a sha256 (64 lower-case hex digits)`), 400);
    const view = o.backend.model(sha);
    return view ? c.json(view) : c.json(errorBody('USAGE', `no reports of model ${sha} in this operator store`), 404);
  });
  app.get('/api/rollouts', (c) => c.json({ rollouts: o.backend.rollouts() }));
  app.get('/api/rollouts/:id', (c) => {
    const id = c.req.param('id');
    if (!ROLLOUT_ID_PATTERN.test(id)) return c.json(errorBody('USAGE', `rollout id '${id}' must match [A-Za-z0-9_-]{1,64}`), 400);
    const view = o.backend.rollout(id);
    return view ? c.json(view) : c.json(errorBody('USAGE', `no rollout '${id}' in this operator store`), 404);
  });
  app.get('/api/pushes', (c) => c.json({ pushes: o.backend.pushes(), datasets: o.backend.datasets() }));
  app.post(
    '/api/push',
    bodyLimit({
      maxSize: MAX_UPLOAD_BYTES + 1024 * 1024,
      onError: (c) => c.json(errorBody('LIMIT_EXCEEDED', `the upload is over ${MAX_UPLOAD_BYTES} bytes; push big models with \`npx edgetune push\``), 413),
    }),
    async (c) => {
      let form: Record<string, string | File>;
      try {
        form = (await c.req.parseBody()) as Record<string, string | File>;
      } catch (error) {
        throw new EdgetuneError('USAGE', `push: the form could not be read: ${messageOf(error)}`, { cause: error });
      }
      const file = form.model;
      if (!(file instanceof File)) throw new EdgetuneError('USAGE', 'push: choose a model file');
      const text = (k: string): string => (typeof form[k] === 'string' ? (form[k] as string).trim() : '');
      const run = o.backend.submitPush({
        fileName: file.name,
        bytes: new Uint8Array(await file.arrayBuffer()),
        targetKind: text('targetKind'),
        targetId: text('targetId'),
        action: text('action'),
        dataset: text('dataset'),
        options: text('options')
          .split(/\r?\n/)
          .map((l) => l.trim())
          .filter((l) => l.length > 0 && !l.startsWith('#')),
      });
      return c.json({ push: run }, 202);
    },
  );
  app.post('/api/devices/:id/resync', (c) => {
    const id = c.req.param('id');
    if (!DEVICE_ID_PATTERN.test(id)) return c.json(errorBody('USAGE', `device id '${id}' must match [A-Za-z0-9_-]{1,64}`), 400);
    o.backend.resync(id);
    return c.json({ resync: { deviceId: id, state: 'running' } }, 202);
  });

  app.get('/api/events', (c) =>
    streamSSE(c, async (stream) => {
      const queue: LiveEvent[] = [];
      let wake: (() => void) | null = null;
      const unsubscribe = o.backend.subscribe((e) => {
        queue.push(e);
        wake?.();
      });
      let closed = false;
      stream.onAbort(() => {
        closed = true;
        wake?.();
      });
      try {
        await stream.writeSSE({ event: 'hello', data: JSON.stringify(o.backend.summary()) });
        while (!closed) {
          const e = queue.shift();
          if (e) {
            await stream.writeSSE({ event: e.type, data: JSON.stringify(e) });
            continue;
          }
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 15_000);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = null;
          if (queue.length === 0 && !closed) await stream.write(': keep-alive\n\n');
        }
      } finally {
        unsubscribe();
      }
    }),
  );

  app.notFound((c) => c.json(errorBody('USAGE', `no such page or API: ${new URL(c.req.url).pathname}`), 404));
  return app;
}

/** Listen on host:port; USAGE naming the problem when the port is taken or the address is not this machine's. */
export async function listenDashboard(o: DashboardHttpOptions): Promise<DashboardHttpServer> {
  const app = dashboardApp(o);
  const server = createAdaptorServer({ fetch: app.fetch, hostname: o.host, port: o.port }) as Server;
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      const where = `${o.host}:${o.port}`;
      if (error.code === 'EADDRINUSE') reject(new EdgetuneError('USAGE', `dashboard: port ${o.port} on ${o.host} is in use (another dashboard or service); choose another with --port`, { cause: error }));
      else if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') reject(new EdgetuneError('USAGE', `dashboard: --host ${o.host} is not an address of this machine`, { cause: error }));
      else if (error.code === 'EACCES') reject(new EdgetuneError('USAGE', `dashboard: not allowed to listen on ${where} (ports below 1024 need privileges)`, { cause: error }));
      else reject(new EdgetuneError('IO_FAILED', `dashboard: cannot listen on ${where}: ${error.message}`, { cause: error }));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(o.port, o.host);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
