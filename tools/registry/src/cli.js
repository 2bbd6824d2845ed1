/**
 * `pnpm registry` (`airlock-registry`): start a local npm registry, publish
 * this clone's packages to it, print how to start a plugin project from it,
 * and serve until interrupted.
 */
import { parseArgs } from 'node:util';

export const HELP = `airlock-registry — serve this clone's Airlock packages from a local npm registry

Usage
  pnpm registry [-- options]

Builds nothing itself: \`pnpm registry\` builds the packages first. The registry
(verdaccio) serves what this clone publishes under the Airlock names, and every
other package from the registry npm is configured with. It runs until Ctrl-C.

Options
  --port <n>      Port to listen on (default 4873; 0 for any free port)
  --host <addr>   Address to listen on (default 127.0.0.1)
  --dir <path>    Keep the registry's storage here (default: a temporary directory)
  -h, --help      Show this help
`;

/** @param {string[]} argv @returns {Promise<number>} */
export async function main(argv) {
  /** @type {{ port?: string, host?: string, dir?: string, help?: boolean }} */
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { port: { type: 'string' }, host: { type: 'string' }, dir: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    process.stderr.write(`error: ${/** @type {Error} */ (err).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const port = Number(values.port ?? 4873);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`error: --port must be a port number, got ${values.port}\n`);
    return 2;
  }
  // Loaded only now: verdaccio takes seconds to import, and --help should not wait for it.
  const { publicPackages, publishWorkspace, startRegistry } = await import('./index.js');
  let registry;
  try {
    registry = await startRegistry({ port, host: values.host, dir: values.dir });
  } catch (err) {
    const e = /** @type {NodeJS.ErrnoException} */ (err);
    process.stderr.write(`error: cannot start the registry: ${e.message}\n`);
    if (e.code === 'EADDRINUSE') process.stderr.write(`hint: something already listens on port ${port}; pass --port <n> (or --port 0 for any free one)\n`);
    return 1;
  }
  try {
    process.stderr.write(`publishing ${publicPackages().length} packages to ${registry.url} …\n`);
    const published = await publishWorkspace(registry.url);
    process.stdout.write(
      `\nServing this clone's packages at ${registry.url}\n` +
        published.map((p) => `  ${p.name}@${p.version}\n`).join('') +
        `(every other package comes from ${registry.uplink}). Ctrl-C stops it.\n\n` +
        `Start a plugin project, in another terminal:\n` +
        `  npm create airlock-plugin@latest my-plugin --registry ${registry.url} -- --kind tool\n` +
        `  cd my-plugin && npm install && npm test\n`,
    );
  } catch (err) {
    process.stderr.write(`error: ${/** @type {Error} */ (err).message}\n`);
    await registry.close();
    return 1;
  }
  await new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await registry.close();
  return 0;
}
