/**
 * Context plugins: given a query and a token budget, every loaded context
 * plugin (or the ones named) is asked at once; their items are merged, the
 * malformed ones dropped, the rest ranked by score, and the host, not the
 * plugins, keeps what fits the budget. A plugin that fails is reported beside
 * the items; only when every plugin fails does the call fail.
 */
import { AirlockError } from '../errors.js';
import { errorOf, refusalsOf, type CallOptions, type PluginCaller } from '../sandbox/instance.js';
import { explainRefusals } from '../capabilities/refusal.js';
import type { ContextError, ContextItem as WitContextItem } from '@airlock/wit/host/interfaces/airlock-plugin-context';

/** Items kept when the caller sets no `maxItems`. */
export const DEFAULT_MAX_ITEMS = 20;
/** The most items one call may ask for. */
export const MAX_ITEMS_LIMIT = 1000;
const U32_MAX = 2 ** 32 - 1;

/**
 * Tokens in `text` when the integrator gives no tokenizer: a quarter of its
 * UTF-8 bytes, rounded up. Close to what BPE tokenizers give for English
 * text and code, on the safe side for most other text.
 */
export const approximateTokens = (text: string): number => Math.ceil(Buffer.byteLength(text) / 4);

/** How many tokens a text takes (`createHost({ countTokens })`). */
export type TokenCounter = (text: string) => number;

/** What `host.context` is asked. */
export interface ContextOptions {
  /** How many tokens the items' texts may take together (a positive integer). */
  budgetTokens: number;
  /** At most this many items. Default 20. */
  maxItems?: number;
  /** Ask only these context plugins (ids). Default: every loaded one. */
  plugins?: string[];
  /** Cancels the plugins' calls. */
  signal?: AbortSignal;
  /** Deadline of each plugin's call, capped by the host maximum. */
  timeoutMs?: number;
}

/** One piece of context the host kept. */
export interface ContextItem {
  text: string;
  /** Where it comes from: a path, a URL, a title. */
  source: string;
  /** The plugin's relevance score, higher is better. */
  score: number;
  /** The plugin that gave it. */
  plugin: string;
}

/** A context plugin that failed during a call (the call itself did not fail). */
export interface ContextFailure {
  plugin: string;
  /** `CONTEXT_FAILED` for an error the plugin returned, else the host's code (`PLUGIN_TIMEOUT`, `PLUGIN_TRAPPED`…). */
  code: string;
  /** The plugin's own code (`unavailable`), when it returned an error. */
  pluginCode?: string;
  message: string;
}

/** What `host.context` resolves with. */
export interface ContextResult {
  /** Best first, within the budget and `maxItems`. */
  items: ContextItem[];
  /** Tokens the kept items' texts take together (≤ `budgetTokens`). */
  tokens: number;
  /** Items given but not kept: malformed, over the budget, or past `maxItems`. */
  dropped: number;
  /** The plugins that failed; empty when all answered. */
  failures: ContextFailure[];
}

/** A loaded context plugin, as a call reaches it. */
export interface ContextSource {
  id: string;
  caller: PluginCaller;
}

/** The request after its checks, with the defaults filled in. */
interface Request {
  query: string;
  budgetTokens: number;
  maxItems: number;
}

/** Check what the caller asked; CONTEXT_REQUEST_INVALID saying what is wrong. */
export function checkContextRequest(query: unknown, options: Partial<ContextOptions> | undefined): Request {
  const invalid = (what: string, hint: string) => new AirlockError('CONTEXT_REQUEST_INVALID', `host.context: ${what}`, { hint });
  if (typeof query !== 'string') throw invalid(`the query must be a string, not ${typeof query}`, 'Pass the user\'s question as the first argument.');
  const { budgetTokens, maxItems = DEFAULT_MAX_ITEMS, plugins } = options ?? {};
  if (!Number.isInteger(budgetTokens) || budgetTokens! < 1 || budgetTokens! > U32_MAX) {
    throw invalid(`budgetTokens must be a positive integer, not ${String(budgetTokens)}`, 'Say how many tokens the context may take, e.g. { budgetTokens: 2000 }.');
  }
  if (!Number.isInteger(maxItems) || maxItems < 1 || maxItems > MAX_ITEMS_LIMIT) {
    throw invalid(`maxItems must be an integer from 1 to ${MAX_ITEMS_LIMIT}, not ${String(maxItems)}`, `Leave it out for ${DEFAULT_MAX_ITEMS}.`);
  }
  if (plugins !== undefined && (!Array.isArray(plugins) || plugins.some((p) => typeof p !== 'string'))) {
    throw invalid('plugins must be a list of plugin ids', 'Name the context plugins to ask, or leave it out to ask all of them.');
  }
  return { query, budgetTokens: budgetTokens!, maxItems };
}

/** Ask every source at once, merge, rank and keep what fits. */
export async function gatherContext(
  sources: readonly ContextSource[],
  request: Request,
  countTokens: TokenCounter,
  options: Pick<CallOptions, 'timeoutMs' | 'signal'>,
  warn: (message: string, plugin: string) => void,
): Promise<ContextResult> {
  const failures: ContextFailure[] = [];
  const given: { item: ContextItem; order: number }[] = [];
  let dropped = 0;
  const answers = await Promise.all(sources.map((source) => retrieve(source, request, options)));
  sources.forEach((source, i) => {
    const answer = answers[i]!;
    if ('failure' in answer) {
      failures.push(answer.failure);
      warn(`context failed: ${answer.failure.code}: ${answer.failure.message}`, source.id);
      return;
    }
    let malformed = 0;
    answer.items.forEach((raw, order) => {
      const item = checkItem(raw, source.id);
      if (item) given.push({ item, order });
      else malformed++;
    });
    if (malformed > 0) warn(`context: dropped ${malformed} malformed item${malformed > 1 ? 's' : ''} (empty text, a source that is not text, or a score that is not a finite number)`, source.id);
    dropped += malformed;
  });
  if (sources.length > 0 && failures.length === sources.length) {
    throw new AirlockError('CONTEXT_FAILED', `every context plugin failed: ${failures.map((f) => `\`${f.plugin}\`: ${f.message}`).join('; ')}`, {
      plugin: sources.length === 1 ? sources[0]!.id : undefined,
      hint: 'See each plugin\'s error above; check its grants and configuration with `airlock info <plugin>`.',
    });
  }
  given.sort((a, b) => b.item.score - a.item.score || (a.item.plugin < b.item.plugin ? -1 : a.item.plugin > b.item.plugin ? 1 : 0) || a.order - b.order);
  const items: ContextItem[] = [];
  let tokens = 0;
  for (const { item } of given) {
    if (items.length >= request.maxItems) {
      dropped++;
      continue;
    }
    const cost = tokenCount(countTokens, item.text);
    // An item that does not fit is skipped; a smaller, lower-ranked one may still fit.
    if (tokens + cost > request.budgetTokens) {
      dropped++;
      continue;
    }
    tokens += cost;
    items.push(item);
  }
  return { items, tokens, dropped, failures };
}

type Answer = { items: unknown[] } | { failure: ContextFailure };

async function retrieve(source: ContextSource, request: Request, options: Pick<CallOptions, 'timeoutMs' | 'signal'>): Promise<Answer> {
  try {
    const outcome = await source.caller.call('context.retrieve', [{ query: request.query, budgetTokens: request.budgetTokens, maxItems: request.maxItems }], options);
    if (!outcome.ok) {
      const e = errorOf(outcome) as Partial<ContextError> | undefined;
      const { message } = explainRefusals(typeof e?.message === 'string' ? e.message : String(e), refusalsOf(outcome));
      return { failure: { plugin: source.id, code: 'CONTEXT_FAILED', pluginCode: typeof e?.code === 'string' ? e.code : 'error', message } };
    }
    if (!Array.isArray(outcome.value)) return { failure: { plugin: source.id, code: 'CONTEXT_FAILED', message: 'retrieve did not return a list' } };
    return { items: outcome.value };
  } catch (err) {
    if (options.signal?.aborted) throw err;
    if (!AirlockError.isInstance(err)) throw err;
    return { failure: { plugin: source.id, code: err.code, message: err.message } };
  }
}

function checkItem(raw: unknown, plugin: string): ContextItem | undefined {
  const item = raw as Partial<WitContextItem> | null;
  if (typeof item?.text !== 'string' || item.text.trim() === '') return undefined;
  if (typeof item.source !== 'string' || typeof item.score !== 'number' || !Number.isFinite(item.score)) return undefined;
  return { text: item.text, source: item.source, score: item.score, plugin };
}

function tokenCount(countTokens: TokenCounter, text: string): number {
  const n = countTokens(text);
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
    throw new AirlockError('HOST_OPTIONS_INVALID', `countTokens returned ${String(n)} for a text of ${text.length} characters`, { hint: 'createHost({ countTokens }) must return a non-negative number of tokens.' });
  }
  return n;
}
