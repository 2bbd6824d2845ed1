/**
 * Runs componentize-js in its own process (a build peaks near 800 MB and
 * should not share the caller's heap). Reads a JSON job from argv, writes the
 * component, and reports a JSON line on stdout.
 */
import { writeFile } from 'node:fs/promises';
import { componentize } from '@bytecodealliance/componentize-js';

interface Job {
  sourcePath: string;
  witPath: string;
  worldName: string;
  outFile: string;
  /** Keep StarlingMonkey's stdio so JS errors and stacks are printed before a trap. */
  debug: boolean;
}

const job = JSON.parse(process.argv[2]!) as Job;
try {
  const { component } = await componentize({
    sourcePath: job.sourcePath,
    witPath: job.witPath,
    worldName: job.worldName,
    disableFeatures: job.debug ? [] : ['stdio'],
  });
  await writeFile(job.outFile, component);
  process.stdout.write(JSON.stringify({ ok: true, bytes: component.byteLength }) + '\n');
} catch (err) {
  const e = err as { message?: string; payload?: unknown };
  const message = typeof e.payload === 'string' ? e.payload : (e.message ?? String(err));
  process.stdout.write(JSON.stringify({ ok: false, message }) + '\n');
  process.exitCode = 1;
}
