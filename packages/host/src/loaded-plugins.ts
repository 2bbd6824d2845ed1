/**
 * The plugins a host has loaded, by id, and what is looked up across them:
 * a tool by name (bare when only one plugin has it, else `<plugin>.<tool>`),
 * a prompt template the same way, a provider by id (or the only one), the
 * context plugins. Lookups that fail say what there is.
 */
import { AirlockError } from './errors.js';
import type { ToolInfo } from './kinds/tool.js';
import type { LoadedPrompt, PromptInfo } from './kinds/prompt-template.js';
import type { ContextSource } from './kinds/context.js';
import type { ProviderHandle, ProviderInfo } from './kinds/provider.js';
import { ProviderGate } from './kinds/provider-gate.js';
import type { Loaded } from './plugin-opener.js';
import { HookChain } from './kinds/hook.js';

export class LoadedPlugins {
  readonly #gates = new WeakMap<object, ProviderGate>();
  readonly #byId = new Map<string, Loaded>();
  /** Tools by bare and by qualified name; rebuilt after plugins come and go. */
  #toolIndex: Map<string, ToolInfo[]> | undefined;
  /** Prompt templates likewise. */
  #promptIndex: Map<string, LoadedPrompt[]> | undefined;
  /** The loaded hook plugins, in the order they run; rebuilt only when a hook plugin comes or goes. */
  #hooks = new HookChain();

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  /** The loaded plugin `id`, or undefined. */
  find(id: string): Loaded | undefined {
    return this.#byId.get(id);
  }

  /** The loaded plugin `id`; PLUGIN_NOT_FOUND naming the loaded ones otherwise. */
  get(id: string): Loaded {
    const loaded = this.#byId.get(id);
    if (!loaded) {
      const known = [...this.#byId.keys()];
      throw new AirlockError('PLUGIN_NOT_FOUND', `no plugin \`${id}\` is loaded`, { hint: known.length ? `Loaded plugins: ${known.join(', ')}.` : 'No plugin is loaded; load one with host.load(dir).' });
    }
    return loaded;
  }

  set(loaded: Loaded): void {
    const replaced = this.#byId.get(loaded.info.id);
    this.#byId.set(loaded.info.id, loaded);
    this.#toolIndex = undefined;
    this.#promptIndex = undefined;
    if (loaded.hook || replaced?.hook) this.#rechain();
  }

  delete(id: string): void {
    const gone = this.#byId.get(id);
    this.#byId.delete(id);
    this.#toolIndex = undefined;
    this.#promptIndex = undefined;
    if (gone?.hook) this.#rechain();
  }

  /** The hooks of every loaded hook plugin, by point, in the order they run. */
  get hooks(): HookChain {
    return this.#hooks;
  }

  #rechain(): void {
    this.#hooks = new HookChain([...this.#byId.values()].flatMap((p) => (p.hook ? [{ id: p.info.id, info: p.hook, caller: p.instance }] : [])));
  }

  /** Forget them all; returns what was loaded. */
  clear(): Loaded[] {
    const all = [...this.#byId.values()];
    this.#byId.clear();
    this.#toolIndex = undefined;
    this.#promptIndex = undefined;
    this.#hooks = new HookChain();
    return all;
  }

  values(): IterableIterator<Loaded> {
    return this.#byId.values();
  }

  ids(): IterableIterator<string> {
    return this.#byId.keys();
  }

  /** Copies of every loaded tool. */
  tools(): ToolInfo[] {
    return [...this.#byId.values()].flatMap((p) => p.tools.map((tool) => ({ ...tool })));
  }

  /** The loaded tool `name`, or undefined when there is none or several. */
  tool(name: string): ToolInfo | undefined {
    const matches = this.#tools().get(name);
    return matches?.length === 1 ? { ...matches[0]! } : undefined;
  }

  /** The loaded tool `name`: TOOL_AMBIGUOUS naming the candidates, or TOOL_NOT_FOUND naming what there is. */
  findTool(name: string): ToolInfo {
    const matches = this.#tools().get(name) ?? [];
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) {
      throw new AirlockError('TOOL_AMBIGUOUS', `several plugins offer a tool \`${name}\`: ${matches.map((t) => t.qualifiedName).join(', ')}`, {
        hint: 'Call it by its qualified name `<plugin>.<tool>`.',
      });
    }
    const all = [...this.#byId.values()].flatMap((p) => p.tools);
    throw new AirlockError('TOOL_NOT_FOUND', `no loaded plugin offers a tool \`${name}\``, {
      hint: all.length ? `Available tools: ${all.map((t) => t.qualifiedName).join(', ')}.` : 'No tool plugin is loaded.',
    });
  }

  #tools(): Map<string, ToolInfo[]> {
    if (!this.#toolIndex) {
      this.#toolIndex = new Map();
      for (const tool of [...this.#byId.values()].flatMap((p) => p.tools)) {
        for (const key of [tool.name, tool.qualifiedName]) this.#toolIndex.set(key, [...(this.#toolIndex.get(key) ?? []), tool]);
      }
    }
    return this.#toolIndex;
  }

  /** Copies of every loaded prompt template. */
  prompts(): PromptInfo[] {
    // The schema is copied too: the compiled validator reads the object the host keeps.
    return [...this.#byId.values()].flatMap((p) => p.prompts.map(({ info }) => ({ ...info, variables: structuredClone(info.variables) })));
  }

  /** The loaded template `name` (bare or `<plugin>.<name>`): PROMPT_AMBIGUOUS naming the candidates, or PROMPT_NOT_FOUND naming what there is. */
  findPrompt(name: string): LoadedPrompt {
    if (!this.#promptIndex) {
      this.#promptIndex = new Map();
      for (const prompt of [...this.#byId.values()].flatMap((p) => p.prompts)) {
        for (const key of [prompt.info.name, prompt.info.qualifiedName]) this.#promptIndex.set(key, [...(this.#promptIndex.get(key) ?? []), prompt]);
      }
    }
    const matches = this.#promptIndex.get(name) ?? [];
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) {
      throw new AirlockError('PROMPT_AMBIGUOUS', `several plugins offer a prompt template \`${name}\`: ${matches.map((p) => p.info.qualifiedName).join(', ')}`, {
        hint: 'Name it by its qualified name `<plugin>.<template>`.',
      });
    }
    const all = this.prompts();
    throw new AirlockError('PROMPT_NOT_FOUND', `no loaded plugin offers a prompt template \`${name}\``, {
      hint: all.length ? `Available templates: ${all.map((p) => p.qualifiedName).join(', ')}.` : 'No prompt-template plugin is loaded.',
    });
  }

  /** The loaded context plugins, or the ones named (PLUGIN_NOT_FOUND for a name that is not a loaded context plugin). */
  contextSources(ids?: readonly string[]): ContextSource[] {
    const all = [...this.#byId.values()].filter((p) => p.info.kind === 'context');
    if (ids === undefined) return all.map((p) => ({ id: p.info.id, caller: p.instance }));
    return [...new Set(ids)].map((id) => {
      const found = all.find((p) => p.info.id === id);
      if (!found) {
        const kind = this.#byId.get(id)?.info.kind;
        throw new AirlockError('PLUGIN_NOT_FOUND', kind ? `plugin \`${id}\` is a ${kind} plugin, not a context plugin` : `no context plugin \`${id}\` is loaded`, {
          plugin: id,
          hint: all.length ? `Loaded context plugins: ${all.map((p) => p.info.id).join(', ')}.` : 'No context plugin is loaded; load one first.',
        });
      }
      return { id, caller: found.instance };
    });
  }

  /** Copies of what each loaded provider said about itself. */
  providers(): ProviderInfo[] {
    return [...this.#byId.values()].flatMap((p) => (p.provider ? [{ ...p.provider, limits: { ...p.provider.limits } }] : []));
  }

  /** The loaded providers, as the provider kind drives them. */
  providerHandles(): ProviderHandle[] {
    return [...this.#byId.values()].flatMap((p) =>
      p.provider ? [{ id: p.info.id, info: p.provider, contract: p.info.contract, gate: this.#gateOf(p, p.provider), caller: p.instance, release: (scope: object) => p.http.closeOwned(scope) }] : [],
    );
  }

  /** One gate per loaded provider (a reload is a new one), holding its requests to the limits it declared. */
  #gateOf(loaded: object, info: ProviderInfo): ProviderGate {
    let gate = this.#gates.get(loaded);
    if (!gate) this.#gates.set(loaded, (gate = new ProviderGate(info.id, info.limits)));
    return gate;
  }

  /** Provider `id`, or the only one loaded when `id` is undefined; PROVIDER_NOT_FOUND saying what there is. */
  provider(id: string | undefined): ProviderHandle {
    const all = this.providerHandles();
    if (id === undefined) {
      if (all.length === 1) return all[0]!;
      throw new AirlockError('PROVIDER_NOT_FOUND', all.length === 0 ? 'no provider plugin is loaded' : `${all.length} providers are loaded; say which one (${all.map((p) => p.id).join(', ')})`, {
        hint: all.length === 0 ? 'Load a provider plugin first.' : 'Pass `provider` in the request.',
      });
    }
    const found = all.find((p) => p.id === id);
    if (!found) {
      throw new AirlockError('PROVIDER_NOT_FOUND', `no provider plugin \`${id}\` is loaded`, {
        hint: all.length ? `Loaded providers: ${all.map((p) => p.id).join(', ')}.` : 'Load a provider plugin first.',
      });
    }
    return found;
  }
}
