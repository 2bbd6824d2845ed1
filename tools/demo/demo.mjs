#!/usr/bin/env node
/**
 * The whole loop an assistant runs, on this machine only:
 *
 *   1. a local OAuth server (device flow, auto-approved) and a local
 *      OpenAI-compatible server that accepts only that server's tokens;
 *   2. `airlock auth login auth-device-flow`: the device code, then the token;
 *   3. `airlock chat`: the provider plugin gets that token through the host,
 *      streams its answer, asks for the notes plugin's `count_words` tool, and
 *      answers with the tool's result.
 *
 * Every step is the real `airlock` CLI in its own process, as a user would run
 * it; sign-ins persist in the host home between them.
 *
 * Usage: node tools/demo/demo.mjs [--home <dir>]   (default: ./.airlock)
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startOAuthServer } from '@airlock/oauth-server';
import { startOpenAIServer } from '@airlock/openai-server';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = fileURLToPath(new URL('../../packages/cli/bin/airlock.js', import.meta.url));
const { values } = parseArgs({ options: { home: { type: 'string', default: '.airlock' } } });
const color = process.stdout.isTTY && !process.env.NO_COLOR && !process.env.CI;
const dim = (s) => (color ? `\x1b[2m${s}\x1b[0m` : s);
const bold = (s) => (color ? `\x1b[1m${s}\x1b[0m` : s);

const oauth = await startOAuthServer({ interval: 1, autoApprove: true, account: 'demo-user' });
const api = await startOpenAIServer({ apiKeys: [], verifyToken: (token) => oauth.verifyAccessToken(token).valid, chunkDelayMs: 25 });

const plugins = ['plugins/auth-device-flow', 'plugins/provider-openai', 'plugins/notes'].flatMap((dir) => ['-p', dir]);
const config = Object.entries({
  'auth-device-flow.clientId': 'airlock-demo',
  'auth-device-flow.deviceAuthorizationEndpoint': oauth.deviceAuthorizationEndpoint,
  'auth-device-flow.tokenEndpoint': oauth.tokenEndpoint,
  'auth-device-flow.revocationEndpoint': oauth.revocationEndpoint,
  'auth-device-flow.userinfoEndpoint': oauth.userinfoEndpoint,
  'provider-openai.baseUrl': api.url,
  'provider-openai.auth': 'credentials',
}).flatMap(([key, value]) => ['-c', `${key}=${value}`]);
const common = [...plugins, ...config, '--yes', '--home', values.home];

/** Run the CLI as a user would; resolves when it exits 0. */
function airlock(title, args) {
  const shown = args.map((a) => (/[\s"{}]/.test(a) ? `'${a}'` : a)).join(' ');
  console.log(`\n${bold(`▸ ${title}`)}\n${dim(`$ airlock ${shown} -p … -c … --yes`)}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args, ...common], { cwd: root, stdio: 'inherit', env: { ...process.env, OPENAI_API_KEY: '' } });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`airlock ${args[0]} ${args[1] ?? ''} exited with ${code}`))));
  });
}

try {
  console.log(dim(`local OAuth server ${oauth.url} (approves every device code) · local chat server ${api.url}`));
  await airlock('Sign in (device flow)', ['auth', 'login', 'auth-device-flow']);
  await airlock('Who is signed in', ['auth', 'status', 'auth-device-flow']);
  await airlock('Chat: the provider streams, calls a tool, and answers', [
    'chat',
    '--provider',
    'provider-openai',
    '--model',
    'gpt-4o-mini',
    'Please use count_words on {"text":"Airlock runs every plugin in its own sandbox"}',
  ]);
} catch (err) {
  console.error(err.message);
  process.exitCode = 1;
} finally {
  await Promise.all([oauth.close(), api.close()]);
}
