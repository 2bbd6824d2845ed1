/**
 * The hooks every plugin exports (`airlock:plugin/lifecycle`): `init` when an
 * instance starts, `shutdown` before the host retires it, and `onEvent` for
 * events on the topics the plugin subscribes to. Each `define*Plugin` takes
 * them as options; the ones a plugin leaves out do nothing.
 */
import { log } from './host.js';

export interface LifecycleHooks {
  /**
   * Runs once in each new instance before its first call, with the plugin's
   * configuration. Throwing (or rejecting) fails that call with the message,
   * and at load, the load. May be async.
   */
  init?: (config: Record<string, unknown>) => void | Promise<void>;
  /** Runs before the host retires the instance (unload, reload, host shutdown); the host waits about a second at most. What it throws is logged. May be async. */
  shutdown?: () => void | Promise<void>;
  /**
   * An event on a topic the plugin subscribes to (`events.subscribe` in the
   * manifest), with its payload parsed from JSON. Events arrive one at a
   * time, in order per topic. What it throws is logged. May be async.
   */
  onEvent?: (topic: string, payload: unknown) => void | Promise<void>;
}

/** The `lifecycle` export, as the build hands it to the component. */
export interface LifecycleExports {
  init(config: string): void | Promise<void>;
  shutdown(): void | Promise<void>;
  onEvent(topic: string, payload: string): void | Promise<void>;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** The `lifecycle` export for `hooks`: errors of `init` become the WIT error string (a thrown Error would trap the component). */
export function lifecycleExports(hooks: LifecycleHooks): LifecycleExports {
  return {
    async init(config) {
      if (!hooks.init) return;
      try {
        await hooks.init(JSON.parse(config) as Record<string, unknown>);
      } catch (e) {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- the WIT `result` error case is the string itself
        throw message(e);
      }
    },
    // What these throw is logged, not thrown: a thrown Error would trap the instance, and every later call would pay for a new one.
    async shutdown() {
      try {
        await hooks.shutdown?.();
      } catch (e) {
        log.warn('shutdown failed:', e);
      }
    },
    async onEvent(topic, payload) {
      try {
        await hooks.onEvent?.(topic, JSON.parse(payload));
      } catch (e) {
        log.warn(`onEvent failed on ${topic}:`, e);
      }
    },
  };
}
