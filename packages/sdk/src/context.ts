/**
 * Context plugins. `defineContextPlugin` turns a `retrieve` function into the
 * `context` export of the contract, wrapping every call so nothing it throws
 * can trap the plugin.
 */
import { failWithToolError } from './errors.js';
import { lifecycleExports, type LifecycleExports, type LifecycleHooks } from './lifecycle.js';

/** What the host asks for. */
export interface ContextRequest {
  /** The user's question or the conversation's topic. */
  query: string;
  /** How many tokens the items may take together. The host enforces it; returning more is fine, but wasted. */
  budgetTokens: number;
  /** At most this many items are kept. */
  maxItems: number;
}

/** One piece of context. */
export interface ContextItem {
  /** The text to add to the prompt (not empty). */
  text: string;
  /** Where it comes from: a path, a URL, a title. */
  source: string;
  /** How relevant it is, higher is better, in 0.0 to 1.0. */
  score: number;
}

export interface ContextDefinition {
  /**
   * Items for `request`, best first. May be async. The host drops items with
   * empty text or a score that is not a finite number, ranks the rest with
   * other plugins' items and keeps what fits. What it throws reaches the host
   * as the plugin's error (a ToolError keeps its code).
   */
  retrieve: (request: ContextRequest) => ContextItem[] | Promise<ContextItem[]>;
}

/** What `defineContextPlugin` returns; the build exports it as the component's `context` interface. */
export interface ContextPlugin {
  readonly kind: 'context';
  readonly exports: {
    retrieve(request: ContextRequest): ContextItem[] | Promise<ContextItem[]>;
  };
  /** The hooks; the build exports them as the component's `lifecycle` interface. */
  readonly lifecycle: LifecycleExports;
}

/**
 * Define a context plugin. Export the result as the module's default export.
 *
 * @example
 * export default defineContextPlugin({
 *   retrieve: ({ query }) => docs.filter((d) => d.text.includes(query)).map((d) => ({ text: d.text, source: d.path, score: 1 })),
 * });
 */
export function defineContextPlugin(plugin: ContextDefinition & LifecycleHooks): ContextPlugin {
  return {
    kind: 'context',
    lifecycle: lifecycleExports(plugin),
    exports: {
      retrieve: (request) => {
        try {
          const items = plugin.retrieve({ query: request.query, budgetTokens: request.budgetTokens, maxItems: request.maxItems });
          return items instanceof Promise ? items.then(toItems).catch(failWithToolError) : toItems(items);
        } catch (e) {
          return failWithToolError(e);
        }
      },
    },
  };
}

function toItems(items: ContextItem[]): ContextItem[] {
  if (!Array.isArray(items)) throw new TypeError('retrieve must return a list of items');
  // Only the record's fields cross the boundary; a score that is not a number is NaN, which the host drops.
  return items.map((i) => ({ text: String(i?.text ?? ''), source: String(i?.source ?? ''), score: typeof i?.score === 'number' ? i.score : Number.NaN }));
}
