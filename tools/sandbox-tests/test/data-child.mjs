// Runs `registry.remove(id, { purge: true })` in its own process over a
// storage adapter that kills the process (SIGKILL: no cleanup, no finally)
// when the purge starts deleting data: after the purge's transaction has
// committed, before any data is gone. A test then checks what the next host
// makes of it.
import { join } from 'node:path';
import { createHost, openSqliteStorage } from '@airlock/host';

const [home, componentCacheDir, id] = process.argv.slice(2);
const sqlite = openSqliteStorage(join(home, 'storage.db'));
const dying = {
  ...sqlite,
  clear: () => process.kill(process.pid, 'SIGKILL'),
  delete: () => process.kill(process.pid, 'SIGKILL'),
};
const host = await createHost({ home, logger: () => {}, storage: dying, componentCacheDir });
await host.registry.remove(id, { purge: true });
process.stdout.write('finished\n');
