// Runs one install or update in its own process and kills itself (SIGKILL: no
// cleanup, no finally) right after the step named on the command line, so a
// test can check what a crash at that point leaves behind.
import { createHost } from '@airlock/host';

const [home, componentCacheDir, action, source, killAfter] = process.argv.slice(2);
const host = await createHost({ home, logger: () => {}, componentCacheDir });
const onStep = (step) => {
  if (step === killAfter) process.kill(process.pid, 'SIGKILL');
};
if (action === 'install') {
  await host.registry.install(source, { grant: 'manifest', onStep });
} else {
  const plan = await host.registry.update(action.slice('update:'.length), source, { onStep });
  await plan.apply({ grant: 'manifest' });
}
await host.close();
process.stdout.write('finished\n');
