// Credentials bound to origins: a plugin granted `{ plugin, inject }` never
// sees the token. The host adds it to the plugin's requests to the bound
// origins, replacing any Authorization the plugin set, and to no other
// origin (a redirect away from a bound origin leaves it behind); get-token is
// refused with the origins named; signed-in works; a request while signed out
// fails instead of going out bare; the token stays out of logs and audit.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost, type Host, type LogEntry } from '@airlock/host';
import { capabilityVariant, rejection } from '@airlock/test-utils';

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;
const TOKEN = 'tok_live_0123456789abcdef';
const BOUND = 'https://api.example.com';
const OTHER = 'https://other.example.com';

let base: string;
let host: Host;
let server: Server;
const logs: LogEntry[] = [];
/** What the loopback server (standing for both origins) received. */
const seen: { host: string | undefined; path: string; authorization: string | undefined }[] = [];

type Fetched = { status?: number; text?: string; rejected?: boolean; message?: string };
const fetchAs = async (plugin: string, url: string, headers?: Record<string, string>) => (await host.callTool(`${plugin}.fetch`, { url, ...(headers ? { headers } : {}) })) as Fetched;
/** The request headers the server echoed back. */
const echoed = (r: Fetched) => JSON.parse(r.text!) as IncomingHttpHeaders;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'airlock-inject-'));
  server = createServer((req, res) => {
    seen.push({ host: req.headers.host, path: req.url!, authorization: req.headers.authorization });
    if (req.url === '/away') return res.writeHead(302, { location: `${OTHER}/landed` }).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.headers));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  host = await createHost({ home: join(base, 'home'), logger: (e) => logs.push(e), connectTo: { [BOUND]: url, [OTHER]: url } });
  await host.load(fixture('scripted-auth'), { grant: 'manifest' });
  const http = [BOUND, OTHER];
  await host.load(await capabilityVariant(fixture('misbehaving'), base, 'bound', { http, credentials: [{ plugin: 'scripted-auth', inject: [BOUND] }] }), { grant: 'manifest' });
  await host.load(await capabilityVariant(fixture('misbehaving'), base, 'ungranted', { http }), { grant: 'manifest' });
  await host.load(await capabilityVariant(fixture('misbehaving'), base, 'handed', { http, credentials: ['scripted-auth'] }), { grant: 'manifest' });
});

afterAll(async () => {
  await host.close();
  server.close();
  await rm(base, { recursive: true, force: true });
});

describe('a credential bound to origins, signed out', () => {
  it('says so through signed-in, as an unbound grant does', async () => {
    expect(await host.callTool('bound.signed_in', { from: 'scripted-auth' })).toEqual({ signedIn: false });
    expect(await host.callTool('handed.signed_in', { from: 'scripted-auth' })).toEqual({ signedIn: false });
  });

  it('fails a request to the bound origin without sending it, and says how to sign in', async () => {
    const before = seen.length;
    // The plugin's fetch rejects (StarlingMonkey says only NetworkError, whatever the cause)...
    expect(await fetchAs('bound', `${BOUND}/x`)).toEqual({ rejected: true, message: 'TypeError: NetworkError when attempting to fetch resource' });
    // ...and a call that fails because of it carries the host's reason and what to do.
    const err = await rejection(host.callTool('bound.fetch', { url: `${BOUND}/x`, rethrow: true }));
    expect(err.message).toContain('the host refused GET https://api.example.com: not signed in to scripted-auth: run `airlock auth login scripted-auth`');
    expect(err.hint).toContain('airlock auth login scripted-auth');
    expect(seen.length).toBe(before);
    expect(logs.map((l) => l.message)).toContain('denied GET https://api.example.com: not signed in to scripted-auth: run `airlock auth login scripted-auth`');
    expect(host.audit({ plugin: 'bound', capability: 'credentials' }).at(-1)).toMatchObject({
      action: 'inject',
      target: BOUND,
      outcome: 'refused',
      detail: 'GET https://api.example.com: not signed in to scripted-auth: run `airlock auth login scripted-auth`',
    });
  });

  it('lets requests to other origins go out as before', async () => {
    expect(await fetchAs('bound', `${OTHER}/y`)).toMatchObject({ status: 200 });
  });
});

describe('a credential bound to origins, signed in', () => {
  beforeAll(async () => {
    await (await host.auth('scripted-auth').login()).wait();
  });

  it('says so through signed-in, as an unbound grant does', async () => {
    expect(await host.callTool('bound.signed_in', { from: 'scripted-auth' })).toEqual({ signedIn: true });
    expect(await host.callTool('handed.signed_in', { from: 'scripted-auth' })).toEqual({ signedIn: true });
  });

  it('is still handed over where the grant is unbound, and then added to nothing', async () => {
    expect(await host.callTool('handed.token', { from: 'scripted-auth' })).toEqual({ token: TOKEN });
    expect(echoed(await fetchAs('handed', `${BOUND}/f`))).not.toHaveProperty('authorization');
  });

  it('is added to requests to the bound origin, in place of the plugin\'s own Authorization', async () => {
    expect(echoed(await fetchAs('bound', `${BOUND}/a`))).toMatchObject({ host: 'api.example.com', authorization: `Bearer ${TOKEN}` });
    expect(echoed(await fetchAs('bound', `${BOUND}/b`, { Authorization: 'Bearer forged' }))).toMatchObject({ authorization: `Bearer ${TOKEN}` });
  });

  it('is not added to another origin the plugin may reach; the plugin\'s own header goes there untouched', async () => {
    expect(echoed(await fetchAs('bound', `${OTHER}/c`))).not.toHaveProperty('authorization');
    expect(echoed(await fetchAs('bound', `${OTHER}/d`, { Authorization: 'Basic mine' }))).toMatchObject({ authorization: 'Basic mine' });
  });

  it('does not follow a redirect from the bound origin to another one', async () => {
    const before = seen.length;
    expect(echoed(await fetchAs('bound', `${BOUND}/away`))).toMatchObject({ host: 'other.example.com' });
    expect(seen.slice(before)).toEqual([
      { host: 'api.example.com', path: '/away', authorization: `Bearer ${TOKEN}` },
      { host: 'other.example.com', path: '/landed', authorization: undefined },
    ]);
  });

  it('cannot be read by the plugin: get-token is denied, naming the origins the host injects it into', async () => {
    const reply = (await host.callTool('bound.token', { from: 'scripted-auth' })) as { error: { tag: string; val: string } };
    expect(reply.error.tag).toBe('denied');
    expect(reply.error.val).toContain('the host injects the credential of `scripted-auth` into plugin `bound`\'s requests to https://api.example.com');
    expect(reply.error.val).toContain('credentials.signedIn("scripted-auth")');
    expect(JSON.stringify(reply)).not.toContain(TOKEN);
  });

  it('is recorded in the audit log as an injection per request, without the token; nor does the token reach the logs', async () => {
    const injected = host.audit({ plugin: 'bound', capability: 'credentials' }).filter((r) => r.action === 'inject' && r.outcome === 'allowed');
    expect(injected.length).toBeGreaterThanOrEqual(3);
    for (const r of injected) expect(r).toMatchObject({ target: BOUND, call: 'tool fetch', detail: 'scripted-auth' });
    expect(JSON.stringify(host.audit())).not.toContain(TOKEN);
    expect(logs.some((l) => l.message.includes(TOKEN))).toBe(false);
    // The auth plugin logs the token on purpose: the line is masked.
    expect(logs.some((l) => l.message === 'handing out [REDACTED]')).toBe(true);
  });
});

describe('without a credentials grant', () => {
  it('signed-in and get-token are refused, saying what to grant', async () => {
    const what = 'plugin `ungranted` holds no credentials grant for `scripted-auth`: list "scripted-auth" in "capabilities.credentials" of its manifest, and have the user grant it';
    expect(await host.callTool('ungranted.signed_in', { from: 'scripted-auth' })).toEqual({ error: { tag: 'denied', val: what } });
    expect(await host.callTool('ungranted.token', { from: 'scripted-auth' })).toEqual({ error: { tag: 'denied', val: what } });
  });

  it('nothing is added to its requests, even to the origin another plugin has bound', async () => {
    expect(echoed(await fetchAs('ungranted', `${BOUND}/e`))).not.toHaveProperty('authorization');
  });

  it('a plugin whose manifest binds a credential does not load under a grant of another binding', async () => {
    const dir = await capabilityVariant(fixture('misbehaving'), base, 'narrow', { http: [BOUND, OTHER], credentials: [{ plugin: 'scripted-auth', inject: [BOUND, OTHER] }] });
    const err = await rejection(host.load(dir, { grant: { http: [BOUND, OTHER], credentials: [{ plugin: 'scripted-auth', inject: [BOUND] }] } }));
    expect(err).toMatchObject({ code: 'CAPABILITY_NOT_GRANTED' });
    expect(err.message).toContain('credentials scripted-auth (injected for https://api.example.com, https://other.example.com)');
  });
});
