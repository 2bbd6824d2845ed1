/**
 * Several instances of one plugin, for plugins that may serve calls in
 * parallel. Each instance still serves its own calls in order; a call goes to
 * an idle instance, starting a new one (up to the pool size) when all are busy,
 * and otherwise to the least loaded.
 */
import type { CallOptions, CallOutcome, PluginCaller, PluginInstance } from './instance.js';
import type { WorkerMemory } from './protocol.js';

export class InstancePool implements PluginCaller {
  readonly #instances: PluginInstance[] = [];
  readonly #create: () => PluginInstance;
  readonly #size: number;

  constructor(size: number, create: () => PluginInstance) {
    this.#size = size;
    this.#create = create;
    this.#instances.push(create());
  }

  /** Start the first instance; the others start when load requires them. */
  start(): Promise<void> {
    return this.#instances[0]!.start();
  }

  call(fn: string, args: unknown[], options?: CallOptions): Promise<CallOutcome> {
    return this.#pick().call(fn, args, options);
  }

  /**
   * One instance, for a sequence of calls that must reach the same one (a
   * resource such as a chat stream lives in the instance that made it).
   */
  pin(): PluginCaller {
    return this.#pick();
  }

  #pick(): PluginInstance {
    let best = this.#instances[0]!;
    for (const instance of this.#instances) {
      if (instance.pending === 0) return instance;
      if (instance.pending < best.pending) best = instance;
    }
    if (this.#instances.length < this.#size) {
      const fresh = this.#create();
      this.#instances.push(fresh);
      return fresh;
    }
    return best;
  }

  /** A round trip to each instance's thread that runs no plugin code (see PluginInstance.ping). */
  async ping(): Promise<void> {
    await Promise.all(this.#instances.map((i) => i.ping()));
  }

  /** What each running instance's worker holds (instances with no worker running are left out). */
  async memory(options: { collect?: boolean } = {}): Promise<WorkerMemory[]> {
    const reports = await Promise.all(this.#instances.map((i) => i.memory(options)));
    return reports.filter((r): r is WorkerMemory => r !== undefined);
  }

  async close(options: { park?: boolean } = {}): Promise<void> {
    await Promise.all(this.#instances.map((i) => i.close(options)));
  }

  /** Close each instance once the calls it has running or queued have finished (with `park`, see PluginInstance.drain). */
  async drain(options: { park?: boolean } = {}): Promise<void> {
    await Promise.all(this.#instances.map((i) => i.drain(options)));
  }
}
