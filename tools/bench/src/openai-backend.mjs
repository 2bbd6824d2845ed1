/**
 * What the streaming benches share: the loopback OpenAI server in a child
 * process, and a minimal reader of an OpenAI-style SSE stream.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * `@airlock/openai-server` in a child process, as a real backend would be
 * elsewhere: its JSON encoding and writes do not share the measured event
 * loop. Resolves once it listens; `close()` stops it.
 */
export async function startOpenAIBackend(apiKey) {
  const src = `
    import { startOpenAIServer } from '@airlock/openai-server';
    const server = await startOpenAIServer({ apiKeys: [${JSON.stringify(apiKey)}] });
    process.stdout.write(server.url + '\\n');
    process.stdin.on('end', () => server.close().then(() => process.exit(0)));
    process.stdin.resume();
  `;
  const benchDir = fileURLToPath(new URL('..', import.meta.url));
  const child = spawn(process.execPath, ['--input-type=module', '-e', src], { cwd: benchDir, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const [url] = await Promise.race([once(lines, 'line'), once(child, 'exit').then(([code]) => Promise.reject(new Error(`the openai server exited (${code})`)))]);
  return {
    url,
    close: async () => {
      child.stdin.end();
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}

/**
 * The parsed `data:` events of an SSE response, in order, until `data: [DONE]`
 * (returns true) or the end of the body (returns false). `onBytes` sees the
 * size of every read.
 */
export async function* sseEvents(res, onBytes = () => {}) {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const bytes of res.body) {
    onBytes(bytes.byteLength);
    buffer += decoder.decode(bytes, { stream: true });
    let at = 0;
    for (let end; (end = buffer.indexOf('\n\n', at)) !== -1; at = end + 2) {
      const line = buffer.slice(at, end);
      if (!line.startsWith('data: ')) continue;
      const data = line.slice(6);
      if (data === '[DONE]') return true;
      yield JSON.parse(data);
    }
    buffer = buffer.slice(at);
  }
  return false;
}
