/**
 * A policy and redaction hook. Before a tool call: refuse a tool riskier than
 * `maxRisk` (default `risky`, so `dangerous` tools) unless `allowDangerous`
 * names it, and replace e-mail addresses in its arguments. After a tool call:
 * replace e-mail addresses in its result. Before a chat: replace e-mail
 * addresses in the user's messages.
 */
import { defineHookPlugin, log, type HookChatRequest } from '@airlock/sdk';

type Risk = 'read-only' | 'write' | 'risky' | 'dangerous';
const RISKS: Risk[] = ['read-only', 'write', 'risky', 'dangerous'];

interface Settings {
  allowDangerous: string[];
  maxRisk: Risk;
  failOn?: string;
}

let settings: Settings = { allowDangerous: [], maxRisk: 'risky' };

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;

/** `value` with every e-mail address in its strings replaced, and how many were. */
function redact(value: unknown): { value: unknown; count: number } {
  let count = 0;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      return v.replace(EMAIL, () => {
        count++;
        return '[email]';
      });
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return { value: walk(value), count };
}

function failIfAsked(point: string): void {
  if (settings.failOn === point) throw new Error(`failing in ${point}, as configured (failOn)`);
}

export default defineHookPlugin({
  priority: 0,
  init(config) {
    settings = { ...settings, ...(config as Partial<Settings>) };
  },
  beforeToolCall(call) {
    failIfAsked('before-tool-call');
    const allowed = settings.allowDangerous.includes(call.tool) || settings.allowDangerous.includes(`${call.plugin}.${call.tool}`);
    if (RISKS.indexOf(call.risk) > RISKS.indexOf(settings.maxRisk) && !allowed) {
      return { deny: `\`${call.plugin}.${call.tool}\` is ${call.risk}, and this host allows at most ${settings.maxRisk} tools; list it in the redact-hook's allowDangerous to allow it` };
    }
    const { value, count } = redact(call.arguments);
    if (count === 0) return 'allow';
    log.info(`redacted ${count} e-mail address(es) in the arguments of ${call.plugin}.${call.tool}`);
    return { rewrite: value as Record<string, unknown> };
  },
  afterToolCall(_call, outcome) {
    failIfAsked('after-tool-call');
    if (!outcome.ok) return 'allow';
    const { value, count } = redact(outcome.result);
    return count === 0 ? 'allow' : { rewrite: value };
  },
  beforeChat(_provider, request) {
    failIfAsked('before-chat');
    let total = 0;
    const messages = request.messages.map((m) => {
      if (m.role !== 'user') return m;
      const { value, count } = redact(m.content);
      total += count;
      return { ...m, content: value as string };
    });
    return total === 0 ? 'allow' : { rewrite: { ...request, messages } satisfies HookChatRequest };
  },
});
