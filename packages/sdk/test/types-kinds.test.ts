// Type-level tests of the auth, provider and tool plugin helpers (checked by
// `tsc --noEmit`; every `@ts-expect-error` must stay an error).
import { describe, expectTypeOf, it } from 'vitest';
import {
  defineAuthPlugin,
  defineProviderPlugin,
  defineTool,
  defineToolPlugin,
  type AuthStatus,
  type ChatEvent,
  type ChatRequest,
  type ChatResponse,
  type DeviceAuthorization,
  type ModelInfo,
  type PollOutcome,
} from '../src/index.js';

const status: AuthStatus = { signedIn: false, scopes: [] };
const token = { accessToken: 't', tokenType: 'Bearer', scopes: [] };

describe('defineAuthPlugin', () => {
  it('accepts sync and async functions and types their parameters', () => {
    const plugin = defineAuthPlugin({
      status: async () => status,
      startDeviceFlow: async (): Promise<DeviceAuthorization> => ({ deviceCode: 'd', userCode: 'U', verificationUri: 'https://x', expiresIn: 600, interval: 5 }),
      pollDeviceFlow: (code) => {
        expectTypeOf(code).toBeString();
        return { tag: 'pending' } satisfies PollOutcome;
      },
      setApiKey: (key) => {
        expectTypeOf(key).toBeString();
        return status;
      },
      getToken: () => token,
      logout: async () => {},
    });
    expectTypeOf(plugin.kind).toEqualTypeOf<'auth'>();
    expectTypeOf(plugin.exports.getToken).returns.resolves.toHaveProperty('accessToken');
  });

  it('needs status, getToken and logout; the device flow and API keys are optional', () => {
    defineAuthPlugin({ status: () => status, getToken: () => token, logout: () => {} });
    // @ts-expect-error getToken is required
    defineAuthPlugin({ status: () => status, logout: () => {} });
    // @ts-expect-error status is required
    defineAuthPlugin({ getToken: () => token, logout: () => {} });
  });

  it('refuses results that do not match the contract', () => {
    defineAuthPlugin({
      // @ts-expect-error status must return an AuthStatus
      status: () => 'signed in',
      getToken: () => token,
      logout: () => {},
    });
    defineAuthPlugin({
      status: () => status,
      // @ts-expect-error a token needs accessToken, tokenType and scopes
      getToken: async () => ({ accessToken: 't' }),
      logout: () => {},
    });
    defineAuthPlugin({
      status: () => status,
      getToken: () => token,
      logout: () => {},
      // @ts-expect-error poll outcomes are the contract's variants
      pollDeviceFlow: () => ({ tag: 'waiting' }),
    });
  });
});

describe('defineProviderPlugin', () => {
  const models: ModelInfo[] = [{ id: 'm', features: { streaming: true } }];
  const answer: ChatResponse = { message: { role: 'assistant', content: 'hi', toolCalls: [] }, finishReason: 'stop' };

  it('types requests and accepts an async generator for streaming', () => {
    const plugin = defineProviderPlugin({
      info: () => ({ displayName: 'Echo' }),
      models: async () => models,
      chat: async (req) => {
        expectTypeOf(req).toEqualTypeOf<ChatRequest>();
        expectTypeOf(req.messages[0]!.role).toEqualTypeOf<'system' | 'user' | 'assistant' | 'tool'>();
        return answer;
      },
      async *streamChat(req) {
        expectTypeOf(req.maxTokens).toEqualTypeOf<number | undefined>();
        yield { tag: 'text-delta', val: 'hi' } satisfies ChatEvent;
        yield { tag: 'done', val: 'stop' } satisfies ChatEvent;
      },
    });
    expectTypeOf(plugin.kind).toEqualTypeOf<'provider'>();
  });

  it('refuses a missing export and events outside the contract', () => {
    // @ts-expect-error streamChat is required
    defineProviderPlugin({ info: () => ({ displayName: 'x' }), models: () => models, chat: () => answer });
    defineProviderPlugin({
      info: () => ({ displayName: 'x' }),
      models: () => models,
      chat: () => answer,
      // @ts-expect-error a chat event is one of the contract's variants
      async *streamChat() {
        yield { tag: 'text', val: 'hi' };
      },
    });
    defineProviderPlugin({
      info: () => ({ displayName: 'x' }),
      models: () => models,
      // @ts-expect-error finishReason must be a finish-reason
      chat: () => ({ message: answer.message, finishReason: 'finished' }),
      async *streamChat() {},
    });
    defineProviderPlugin({
      info: () => ({ displayName: 'x' }),
      // @ts-expect-error a model needs its features
      models: () => [{ id: 'm' }],
      chat: () => answer,
      async *streamChat() {},
    });
  });
});

describe('defineToolPlugin', () => {
  it('accepts tools with async run and any result', () => {
    const fetchTool = defineTool({
      name: 'fetch_title',
      description: 'Fetch a page title',
      parameters: { type: 'object', properties: { url: { type: 'string' } }, required: ['url'] },
      risk: 'read-only',
      run: async ({ url }) => {
        expectTypeOf(url).toBeString();
        return { title: url };
      },
    });
    expectTypeOf<Awaited<ReturnType<typeof fetchTool.run>>>().toEqualTypeOf<{ title: string }>();
    const plugin = defineToolPlugin({ tools: [fetchTool] });
    expectTypeOf(plugin.kind).toEqualTypeOf<'tool'>();
  });

  it('refuses what is not a tool and risk levels outside the contract', () => {
    // @ts-expect-error a tool needs a name, description, parameters and run
    defineToolPlugin({ tools: [{ name: 'x', run: () => 1 }] });
    defineTool({
      name: 'rm',
      description: 'Remove',
      parameters: { type: 'object', properties: {} },
      // @ts-expect-error risk is one of read-only, write, risky, dangerous
      risk: 'high',
      run: () => null,
    });
  });
});

describe('defineHookPlugin', () => {
  it('types each hook from the contract and its exports as the generated interface', async () => {
    const { defineHookPlugin } = await import('../src/index.js');
    const plugin = defineHookPlugin({
      beforeToolCall: (call) => {
        expectTypeOf(call.arguments).toEqualTypeOf<Record<string, unknown>>();
        return call.risk === 'dangerous' ? { deny: 'no' } : 'allow';
      },
      afterChat: async (_provider, _request, response) => ({ rewrite: { ...response, finishReason: 'stop' as const } }),
    });
    expectTypeOf(plugin.kind).toEqualTypeOf<'hook'>();
    type Generated = typeof import('airlock:plugin/hook@0.2.0');
    expectTypeOf(plugin.exports.info).returns.toEqualTypeOf<ReturnType<Generated['info']>>();
    expectTypeOf(plugin.exports.beforeToolCall).parameters.toEqualTypeOf<Parameters<Generated['beforeToolCall']>>();
    expectTypeOf(plugin.exports.afterChat).returns.toEqualTypeOf<ReturnType<Generated['afterChat']> | Promise<ReturnType<Generated['afterChat']>>>();
    // @ts-expect-error a rewrite of chat must be a chat request
    defineHookPlugin({ beforeChat: () => ({ rewrite: 42 }) });
  });
});
