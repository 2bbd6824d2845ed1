/**
 * Generates the TypeScript declarations of a world's imports with jco, in its
 * own process: jco's type generation runs as a WASI component on
 * preview2-shim, which must be given the filesystem first (see preopens.ts),
 * and that setting should not leak into the caller's process. Reads a JSON job
 * from argv and reports a JSON line on stdout: the generated files, or jco's
 * message for WIT that does not resolve.
 */
import { generateGuestTypes } from '@bytecodealliance/jco-transpile';

interface Job {
  witPath: string;
  worldName: string;
}

const job = JSON.parse(process.argv[2]!) as Job;
try {
  const generated = await generateGuestTypes(job.witPath, { worldName: job.worldName });
  const decoder = new TextDecoder();
  const files = Object.fromEntries(Object.entries(generated).map(([name, bytes]) => [name, decoder.decode(bytes)]));
  process.stdout.write(JSON.stringify({ ok: true, files }) + '\n');
} catch (err) {
  const e = err as { message?: string; payload?: unknown };
  const message = typeof e.payload === 'string' ? e.payload : (e.message ?? String(err));
  process.stdout.write(JSON.stringify({ ok: false, message }) + '\n');
  process.exitCode = 1;
}
