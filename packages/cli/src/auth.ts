/**
 * `airlock auth login|status|logout <plugin-id>`: drive an auth plugin. Its
 * tokens live in the plugin's storage under --home, so a login here serves
 * every later invocation with the same home.
 */
import type { AuthStatus, DeviceLogin, Host } from '@airlock/host';
import { UsageError, clock, relativeTime, startSpinner, type Ui } from './output.js';
import { interruptible } from './session.js';

export const AUTH_COMMANDS = ['login', 'status', 'logout'] as const;
export type AuthCommand = (typeof AUTH_COMMANDS)[number];

/** The plugin id argument, checked before any plugin loads. */
export function authTarget(command: AuthCommand, rest: string[]): string {
  const [id, ...extra] = rest;
  if (!id) throw new UsageError(`name the auth plugin: airlock auth ${command} <plugin-id>`);
  if (extra.length) throw new UsageError(`unexpected argument \`${extra[0]}\``);
  return id;
}

export function runAuth(command: AuthCommand, host: Host, ui: Ui, id: string): Promise<number> {
  switch (command) {
    case 'login':
      return login(host, ui, id);
    case 'status':
      return status(host, ui, id);
    case 'logout':
      return logout(host, ui, id);
  }
}

/** Device login: show the code and where to enter it, then wait for the user (Ctrl-C cancels). */
async function login(host: Host, ui: Ui, id: string): Promise<number> {
  const signedIn = await interruptible(ui, async (signal) => {
    const device = await host.auth(id).login();
    signal.throwIfAborted();
    announce(ui, id, device);
    const stop = startSpinner(ui, (elapsed) => `Waiting for you to sign in… ${clock(elapsed)} elapsed, ${clock(device.expiresAt - Date.now())} left`);
    try {
      return await device.wait({ signal });
    } finally {
      stop();
    }
  });
  if (ui.json) ui.event({ event: 'signed-in', status: signedIn });
  else ui.print(`${ui.out.green('✔')} Signed in to ${id}${signedIn.account ? ` as ${ui.out.bold(signedIn.account)}` : ''}\n`);
  return 0;
}

/** The code and the URL: NDJSON on stdout with --json, else one line on stderr (stdout may be redirected; the user must see it). */
function announce(ui: Ui, id: string, device: DeviceLogin): void {
  if (ui.json) {
    const { userCode, verificationUri, verificationUriComplete, expiresAt } = device;
    ui.event({ event: 'device-code', plugin: id, userCode, verificationUri, verificationUriComplete: verificationUriComplete ?? null, expiresAt });
    return;
  }
  const url = device.verificationUriComplete ?? device.verificationUri;
  const action = device.verificationUriComplete ? 'check that it shows the code' : 'enter the code';
  ui.log(`${ui.err.yellow('!')} Open ${ui.err.bold(url)} and ${action} ${ui.err.bold(device.userCode)} ${ui.err.dim(`(expires ${relativeTime(device.expiresAt)})`)}`);
}

async function status(host: Host, ui: Ui, id: string): Promise<number> {
  const s = await host.auth(id).status();
  if (ui.json) {
    ui.print(`${JSON.stringify(s)}\n`);
    return 0;
  }
  ui.print(describeStatus(ui, id, s));
  if (!s.signedIn) ui.log(ui.err.dim(`Sign in with \`airlock auth login ${id}\`.`));
  return 0;
}

/** "id: signed in as account" and the details that are known, aligned. */
export function describeStatus(ui: Ui, id: string, s: AuthStatus, now = Date.now()): string {
  if (!s.signedIn) return `${id}: ${ui.out.yellow('signed out')}\n`;
  const details: [string, string | undefined][] = [
    ['method', s.method],
    ['scopes', s.scopes.length ? s.scopes.join(', ') : undefined],
    ['expires', s.expiresAt === undefined ? undefined : `${relativeTime(s.expiresAt, now)} (${new Date(s.expiresAt).toISOString()})`],
  ];
  const lines = details.flatMap(([label, value]) => (value === undefined ? [] : [`  ${label.padEnd(7)}  ${value}\n`]));
  return `${id}: ${ui.out.green('signed in')}${s.account ? ` as ${ui.out.bold(s.account)}` : ''}\n${lines.join('')}`;
}

async function logout(host: Host, ui: Ui, id: string): Promise<number> {
  await host.auth(id).logout();
  if (ui.json) ui.event({ event: 'signed-out', plugin: id });
  else ui.print(`${ui.out.green('✔')} Signed out of ${id}\n`);
  return 0;
}
