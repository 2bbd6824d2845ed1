import { defineHookPlugin, log } from '@airlock/sdk';

let blocked: string[] = [];

/**
 * A policy hook: it sees every tool call before it runs. Return nothing (or
 * 'allow') to let it go ahead, `{ deny: reason }` to refuse it, or
 * `{ rewrite: args }` to run it with other arguments (checked against the
 * tool's schema by the host). Each hook you define is a point the plugin
 * hooks; list it in `capabilities.hooks` in package.json.
 */
export default defineHookPlugin({
  // Lower runs first, among all the hook plugins the host has loaded.
  priority: 0,
  init(config) {
    blocked = (config.blocked as string[] | undefined) ?? [];
  },
  beforeToolCall(call) {
    if (blocked.includes(call.tool) || blocked.includes(`${call.plugin}.${call.tool}`)) {
      log.info(`refused ${call.plugin}.${call.tool}`);
      return { deny: `${call.plugin}.${call.tool} is blocked by {{id}}` };
    }
    if (call.risk === 'dangerous') return { deny: `${call.plugin}.${call.tool} is dangerous; {{id}} refuses dangerous tools` };
    return 'allow';
  },
});
