/**
 * The management API (`/api`, scope `manage`): the installed plugins of the
 * home the server runs, and what happens to them: install (a directory, a
 * .tgz, `npm:<spec>`, a git URL), update with its capability difference and
 * an explicit grant, enable, disable, remove, verify, the grant; and an SSE
 * stream of host events. Changes reach the running host at once: an installed
 * or enabled plugin is loaded, a new grant reloads it, and MCP clients hear
 * `list_changed`. Errors are problem+json with the host's error codes.
 */
import { Hono, type Context } from 'hono';
import { AirlockError, type Grant, type Host, type HostEvents, type InstalledPlugin, type PluginStatus } from '@airlock/host';
import { PLUGIN_EVENTS, problem } from './problem.js';

/** The status a host error gets. */
function statusOf(code: string): number {
  switch (code) {
    case 'PLUGIN_NOT_INSTALLED':
    case 'PLUGIN_NOT_FOUND':
      return 404;
    case 'PLUGIN_ALREADY_INSTALLED':
    case 'DEPENDENTS_EXIST':
    case 'DEPENDENCY_MISSING':
    case 'CONSENT_REQUIRED':
      return 409;
    case 'SOURCE_UNAVAILABLE':
      return 502;
    case 'MANIFEST_INVALID':
    case 'SOURCE_INVALID':
    case 'ARCHIVE_INVALID':
    case 'ARCHIVE_UNSAFE':
    case 'ARCHIVE_TOO_LARGE':
    case 'SIGNATURE_INVALID':
    case 'SIGNATURE_REQUIRED':
    case 'COMPONENT_INVALID':
    case 'CONTRACT_UNSUPPORTED':
    case 'PLUGIN_INCOMPATIBLE':
    case 'CONFIG_INVALID':
    case 'CAPABILITY_NOT_GRANTED':
    case 'PLUGIN_START_FAILED':
      return 422;
    default:
      return 500;
  }
}

/** A problem of the management API: its title is the host's code. */
const problemOf = (status: number, code: string, detail: string, fields: Record<string, unknown> = {}) => problem(status, code, detail, { fields: { title: code, ...fields } });

function fromError(err: unknown): Response {
  if (AirlockError.isInstance(err)) return problemOf(statusOf(err.code), err.code, err.message, err.hint ? { hint: err.hint } : {});
  return problemOf(500, 'INTERNAL', (err as Error)?.message ?? String(err));
}

/** A plugin as the API shows it: its record, whether it runs now and where it is in its life, and its tools. `statuses`: `host.status()`, read once for a list. */
function view(host: Host, plugin: InstalledPlugin, statuses: PluginStatus[] = host.status()) {
  const status = statuses.find((s) => s.id === plugin.id);
  const loaded = status?.loaded ?? false;
  const runtime = status && { state: status.state, since: status.since, restarts: status.restarts, ...(status.lastError ? { lastError: status.lastError } : {}), ...(status.retryAt ? { retryAt: status.retryAt } : {}) };
  return { ...plugin, loaded, ...runtime, tools: loaded ? host.tools().filter((t) => t.plugin === plugin.id).map((t) => t.qualifiedName) : [] };
}


type Body = Record<string, unknown>;

const idOf = (c: Context): string => c.req.param('id') ?? '';

/** The grant a request gives: `'manifest'`, or a capabilities object. */
function grantOf(body: Body): Grant | 'manifest' | undefined {
  const { grant } = body;
  if (grant === undefined) return undefined;
  if (grant === 'manifest' || (typeof grant === 'object' && grant !== null && !Array.isArray(grant))) return grant as Grant | 'manifest';
  throw new AirlockError('HOST_OPTIONS_INVALID', 'grant must be "manifest" or a capabilities object');
}

export interface ManageOptions {
  /** Read a JSON body within the server's size cap; a Response when it cannot. */
  readJson: (c: Context) => Promise<{ body: unknown } | Response>;
  /** Event streams open at once (default 16). */
  maxEventStreams?: number;
}

export function manageRoutes(host: Host, options: ManageOptions): { app: Hono; close: () => void } {
  const app = new Hono();
  const streams = new Set<() => void>();
  const maxStreams = options.maxEventStreams ?? 16;

  const body = async (c: Context): Promise<Body | Response> => {
    const read = await options.readJson(c);
    if (read instanceof Response) return read;
    if (typeof read.body !== 'object' || read.body === null || Array.isArray(read.body)) return problemOf(400, 'HOST_OPTIONS_INVALID', 'the body must be a JSON object');
    return read.body as Body;
  };

  /** Load what is installed and enabled but not running (after an install or an enable). */
  const loadNew = async (id: string) => {
    const { failed } = await host.loadInstalled();
    const mine = failed.find((f) => f.id === id);
    return mine ? { loaded: false, loadError: { code: mine.error.code, message: mine.error.message } } : { loaded: true };
  };

  const guard = (handler: (c: Context) => Promise<Response>) => async (c: Context) => {
    try {
      return await handler(c);
    } catch (err) {
      return fromError(err);
    }
  };

  app.get(
    '/plugins',
    guard(async (c) => {
      const statuses = host.status();
      return c.json({ plugins: host.registry.list().map((p) => view(host, p, statuses)) });
    }),
  );

  app.get(
    '/plugins/:id',
    guard(async (c) => {
      const plugin = host.registry.get(idOf(c));
      if (!plugin) throw new AirlockError('PLUGIN_NOT_INSTALLED', `no plugin \`${idOf(c)}\` is installed`);
      return c.json(view(host, plugin));
    }),
  );

  app.post(
    '/plugins',
    guard(async (c) => {
      const b = await body(c);
      if (b instanceof Response) return b;
      if (typeof b.source !== 'string' || b.source === '') return problemOf(400, 'HOST_OPTIONS_INVALID', 'source is required: a directory, a .tgz, npm:<spec> or a git URL');
      const grant = grantOf(b);
      if (grant === undefined) {
        return problemOf(400, 'CONSENT_REQUIRED', 'grant is required: "manifest" grants what the manifest asks for, or give the capabilities the user consented to', {
          hint: 'Show the user what the plugin asks for first (its package.json `airlock.capabilities`).',
        });
      }
      const installed = await host.registry.install(b.source, {
        grant,
        ...(typeof b.config === 'object' && b.config !== null ? { config: b.config as Record<string, unknown> } : {}),
        keepData: b.keepData === true,
      });
      const state = installed.enabled ? await loadNew(installed.id) : { loaded: false };
      return c.json({ ...view(host, host.registry.get(installed.id)!), ...state }, 201);
    }),
  );

  app.post(
    '/plugins/:id/update',
    guard(async (c) => {
      const b = await body(c);
      if (b instanceof Response) return b;
      const plan = await host.registry.update(idOf(c), typeof b.source === 'string' ? b.source : undefined);
      const grant = grantOf(b);
      if (plan.needsConsent && grant === undefined) {
        return problemOf(409, 'CONSENT_REQUIRED', `${plan.id} ${plan.to} asks for more than ${plan.from} was granted; send the update again with a grant`, { from: plan.from, to: plan.to, added: plan.added });
      }
      const updated = await plan.apply({ ...(grant ? { grant } : {}), keepData: b.keepData === true });
      return c.json({ from: plan.from, to: plan.to, added: plan.added, plugin: view(host, updated) });
    }),
  );

  for (const action of ['enable', 'disable'] as const) {
    app.post(
      `/plugins/:id/${action}`,
      guard(async (c) => {
        const id = idOf(c);
        const plugin = action === 'enable' ? await host.registry.enable(id) : await host.registry.disable(id, { force: c.req.query('force') === 'true' });
        const state = action === 'enable' ? await loadNew(id) : { loaded: false };
        return c.json({ ...view(host, plugin), ...state });
      }),
    );
  }

  app.delete(
    '/plugins/:id',
    guard(async (c) => {
      const removed = await host.registry.remove(idOf(c), { force: c.req.query('force') === 'true', purge: c.req.query('purge') === 'true' });
      return c.json({ ...removed, loaded: false, purged: c.req.query('purge') === 'true' });
    }),
  );

  app.put(
    '/plugins/:id/grant',
    guard(async (c) => {
      const b = await body(c);
      if (b instanceof Response) return b;
      const id = idOf(c);
      const before = host.registry.get(id)?.grant;
      const plugin = host.registry.setGrant(id, b as Grant);
      // A running plugin gets its new grant now; a grant it cannot run under is refused, and the old one stays.
      if (before && host.plugins().some((p) => p.id === id)) {
        try {
          await host.reload(id);
        } catch (err) {
          host.registry.setGrant(id, before);
          if (AirlockError.isInstance(err) && err.code === 'CAPABILITY_NOT_GRANTED') {
            return problemOf(422, err.code, `${err.message}; the grant was not changed`, { hint: `The plugin cannot run without it: disable it (POST /api/plugins/${id}/disable) or remove it instead.` });
          }
          throw err;
        }
      }
      return c.json(view(host, plugin));
    }),
  );

  app.get(
    '/verify',
    guard(async (c) => c.json({ reports: await host.registry.verify(c.req.query('id') || undefined) })),
  );

  app.get('/events', (c) => {
    if (streams.size >= maxStreams) return problemOf(503, 'TOO_MANY_STREAMS', `${streams.size} event streams are open, the limit`);
    const encoder = new TextEncoder();
    let stop = () => {};
    const stream = new ReadableStream<Uint8Array>({
      start(out) {
        const send = (event: string, data: Record<string, unknown>) => {
          try {
            out.enqueue(encoder.encode(`event: ${event}\ndata: ${JSON.stringify({ event, ...data })}\n\n`));
          } catch {
            stop();
          }
        };
        const listen = <E extends keyof HostEvents>(event: E, listener: (...args: HostEvents[E]) => void) => {
          host.on(event, listener as never);
          return () => host.off(event, listener as never);
        };
        const listeners = [
          ...PLUGIN_EVENTS.map((event) => listen(event, (plugin: { id: string; version?: string }) => send(event, { id: plugin.id, version: plugin.version }))),
          listen('plugin-state', (change) => send('plugin-state', { ...change })),
          listen('plugin-failure', (failure) => send('plugin-failure', { ...failure })),
          listen('plugin-restarted', (restart) => send('plugin-restarted', restart)),
          listen('plugin-load-failed', ({ id, error }) => send('plugin-load-failed', { id, error: { code: error.code, message: error.message } })),
        ];
        const keepAlive = setInterval(() => {
          try {
            out.enqueue(encoder.encode(': keep-alive\n\n'));
          } catch {
            stop();
          }
        }, 15_000);
        keepAlive.unref();
        stop = () => {
          clearInterval(keepAlive);
          for (const off of listeners) off();
          streams.delete(stop);
          try {
            out.close();
          } catch {
            // closed already
          }
        };
        streams.add(stop);
        out.enqueue(encoder.encode(': airlock host events\n\n'));
      },
      cancel() {
        stop();
      },
    });
    c.req.raw.signal.addEventListener('abort', () => stop(), { once: true });
    return new Response(stream, { headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' } });
  });

  return {
    app,
    close: () => {
      for (const stop of [...streams]) stop();
    },
  };
}
