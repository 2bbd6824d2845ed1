// The hook chain follows the loaded plugins: built when a hook plugin comes,
// replaced when one reloads, emptied when the last goes; other plugins leave it as it is.
import { describe, expect, it } from 'vitest';
import { LoadedPlugins } from '../src/loaded-plugins.js';
import type { Loaded } from '../src/plugin-opener.js';
import type { HookInfo } from '../src/kinds/hook.js';

const plugin = (id: string, hook?: HookInfo): Loaded => ({ info: { id }, hook, tools: [], provider: undefined, instance: { id } }) as unknown as Loaded;

describe('LoadedPlugins.hooks', () => {
  it('orders hook plugins as they come, reload and go', () => {
    const plugins = new LoadedPlugins();
    const empty = plugins.hooks;
    expect(empty.all).toEqual([]);
    plugins.set(plugin('notes'));
    expect(plugins.hooks).toBe(empty);
    plugins.set(plugin('redact', { points: ['before-tool-call'], priority: 5 }));
    plugins.set(plugin('policy', { points: ['before-tool-call', 'before-chat'], priority: 5 }));
    expect(plugins.hooks.at('before-tool-call').map((h) => h.id)).toEqual(['policy', 'redact']);
    // A reload with another priority moves it; its new instance is the one called.
    const reloaded = plugin('redact', { points: ['before-tool-call'], priority: -1 });
    plugins.set(reloaded);
    expect(plugins.hooks.at('before-tool-call').map((h) => h.id)).toEqual(['redact', 'policy']);
    expect(plugins.hooks.at('before-tool-call')[0]!.caller).toBe(reloaded.instance);
    expect(plugins.hooks.at('before-chat').map((h) => h.id)).toEqual(['policy']);
    plugins.delete('policy');
    expect(plugins.hooks.all.map((h) => h.id)).toEqual(['redact']);
    plugins.clear();
    expect(plugins.hooks.all).toEqual([]);
  });
});
