/**
 * The OpenAPI 3.1 description of `airlock serve`, served at `/openapi.json`.
 * The tests check it is a valid document, that it names every route the
 * server answers, and that real answers match its schemas.
 */
import { version } from './version.js';

const problem = { $ref: '#/components/responses/Problem' };
const json = (schema: unknown) => ({ 'application/json': { schema } });
const ok = (description: string, schema: unknown) => ({ description, content: json(schema) });
const id = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,63}$' }, description: 'The plugin id' };
const manage = [{ bearer: ['manage'] }];
const pluginResponse = ok('The plugin', { $ref: '#/components/schemas/Plugin' });
const errors = { '400': problem, '401': problem, '403': problem, '404': problem, '409': problem, '422': problem, '429': problem, '500': problem };

export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'Airlock serve',
    version,
    description:
      'The installed plugins of one Airlock home: MCP (Streamable HTTP) for tool plugins, an OpenAI-compatible API for provider plugins, and a management API. Every route but the health checks and this document needs a bearer token (`airlock token create --scope tools|chat|manage|metrics`).',
  },
  servers: [{ url: 'http://127.0.0.1:7345' }],
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token from `airlock token create`; its scopes decide the routes it opens.' } },
    responses: {
      Problem: { description: 'An RFC 9457 problem, with the host error code', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } },
      OpenAIError: { description: "An error in OpenAI's shape", content: json({ $ref: '#/components/schemas/OpenAIError' }) },
    },
    schemas: {
      Problem: {
        type: 'object',
        required: ['type', 'title', 'status', 'code', 'detail'],
        properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, code: { type: 'string' }, detail: { type: 'string' }, hint: { type: 'string' } },
      },
      OpenAIError: {
        type: 'object',
        required: ['error'],
        properties: { error: { type: 'object', required: ['message', 'type'], properties: { message: { type: 'string' }, type: { type: 'string' }, code: { type: ['string', 'null'] }, param: { type: ['string', 'null'] } } } },
      },
      Grant: { type: 'object', description: 'Capabilities granted: storage, http, env, filesystem, credentials, events, interfaces, hooks (as in the manifest)', additionalProperties: true },
      Plugin: {
        type: 'object',
        required: ['id', 'version', 'kind', 'enabled', 'grant', 'loaded', 'tools'],
        properties: {
          id: { type: 'string' },
          name: { type: 'string' },
          version: { type: 'string' },
          kind: { type: 'string', enum: ['tool', 'auth', 'provider', 'hook', 'prompt-template', 'context'] },
          enabled: { type: 'boolean' },
          grant: { $ref: '#/components/schemas/Grant' },
          loaded: { type: 'boolean', description: 'Running in this server now' },
          tools: { type: 'array', items: { type: 'string' }, description: 'Its tools, as MCP names them' },
          loadError: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
          state: { type: 'string', enum: ['installed', 'disabled', 'starting', 'active', 'stopping', 'failed'], description: 'Where it is in its life: `failed` after too many failures in a row (its calls are refused until `retryAt`) or a failed load' },
          since: { type: 'number', description: 'When it entered `state`, epoch milliseconds' },
          restarts: { type: 'integer', description: 'Instances replaced after one failed' },
          lastError: { $ref: '#/components/schemas/PluginError' },
          retryAt: { type: 'number', description: 'With `failed`: when its calls are let through again, epoch milliseconds' },
        },
      },
      PluginError: { type: 'object', required: ['code', 'message', 'at'], properties: { code: { type: 'string' }, message: { type: 'string' }, at: { type: 'number' } } },
      PluginMetrics: {
        type: 'object',
        required: ['id', 'state', 'calls', 'errors', 'latency', 'inFlight', 'queued', 'restarts', 'http', 'memoryHighWaterBytes'],
        properties: {
          id: { type: 'string' },
          state: { type: 'string' },
          calls: { type: 'integer', description: "Calls into the plugin, including the host's own (list-tools at load)" },
          errors: { type: 'object', additionalProperties: { type: 'integer' }, description: 'Failed calls by code: the host error code, or `returned:<code>` for errors the plugin returned; past 64 codes, `other`' },
          latency: {
            type: 'object',
            required: ['count', 'sumMs', 'maxMs', 'p50Ms', 'p90Ms', 'p99Ms', 'buckets'],
            properties: { count: { type: 'integer' }, sumMs: { type: 'number' }, maxMs: { type: 'number' }, p50Ms: { type: 'number' }, p90Ms: { type: 'number' }, p99Ms: { type: 'number' }, buckets: { type: 'array', items: { type: 'integer' } } },
          },
          inFlight: { type: 'integer' },
          queued: { type: 'integer' },
          restarts: { type: 'integer' },
          http: {
            type: 'object',
            description: 'Outbound HTTP by origin',
            additionalProperties: { type: 'object', properties: { requests: { type: 'integer' }, refused: { type: 'integer' }, bytesOut: { type: 'integer' }, bytesIn: { type: 'integer' } } },
          },
          memoryHighWaterBytes: { type: 'integer' },
          storage: { type: 'object', properties: { bytes: { type: 'integer' }, keys: { type: 'integer' } } },
        },
      },
    },
  },
  paths: {
    '/healthz': { get: { summary: 'Liveness', security: [], responses: { '200': ok('Alive', { type: 'object', properties: { status: { const: 'ok' } } }) } } },
    '/readyz': {
      get: {
        summary: 'Readiness',
        security: [],
        responses: {
          '200': ok('Serving', { type: 'object', required: ['status', 'plugins', 'sessions'], properties: { status: { const: 'ready' }, plugins: { type: 'integer' }, sessions: { type: 'integer' } } }),
          '503': ok('Closing', { type: 'object' }),
        },
      },
    },
    '/openapi.json': { get: { summary: 'This document', security: [], responses: { '200': ok('The OpenAPI document', { type: 'object' }) } } },
    '/mcp': {
      post: { summary: 'MCP Streamable HTTP: a JSON-RPC message (initialize first)', security: [{ bearer: ['tools'] }], responses: { '200': { description: 'JSON or an SSE stream' }, '202': { description: 'Accepted (a notification)' }, ...errors, '503': problem } },
      get: { summary: 'MCP Streamable HTTP: the session’s stream of server messages', security: [{ bearer: ['tools'] }], responses: { '200': { description: 'An SSE stream' }, ...errors } },
      delete: { summary: 'MCP Streamable HTTP: end the session', security: [{ bearer: ['tools'] }], responses: { '200': { description: 'Ended' }, ...errors } },
    },
    '/v1/models': {
      get: {
        summary: 'The models of the provider plugins, as <provider>/<model>',
        security: [{ bearer: ['chat'] }],
        responses: {
          '200': ok('The models', { type: 'object', required: ['object', 'data'], properties: { object: { const: 'list' }, data: { type: 'array', items: { type: 'object', required: ['id', 'object'], properties: { id: { type: 'string' }, object: { const: 'model' }, owned_by: { type: 'string' } } } } } }),
          '401': { $ref: '#/components/responses/OpenAIError' },
          '403': { $ref: '#/components/responses/OpenAIError' },
        },
      },
    },
    '/v1/chat/completions': {
      post: {
        summary: "A chat completion, whole or streamed (stream: true), in OpenAI's shapes",
        security: [{ bearer: ['chat'] }],
        requestBody: { required: true, content: json({ type: 'object', required: ['model', 'messages'], properties: { model: { type: 'string' }, messages: { type: 'array' }, tools: { type: 'array' }, stream: { type: 'boolean' } } }) },
        responses: {
          '200': { description: 'A chat.completion, or an SSE stream of chat.completion.chunk ending with data: [DONE]' },
          ...Object.fromEntries(['400', '401', '403', '404', '429', '500', '504'].map((s) => [s, { $ref: '#/components/responses/OpenAIError' }])),
        },
      },
    },
    '/api/plugins': {
      get: { summary: 'The installed plugins', security: manage, responses: { '200': ok('The plugins', { type: 'object', required: ['plugins'], properties: { plugins: { type: 'array', items: { $ref: '#/components/schemas/Plugin' } } } }), ...errors } },
      post: {
        summary: 'Install a plugin (a directory, a .tgz, npm:<spec>, a git URL) and load it',
        security: manage,
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required: ['source', 'grant'],
            properties: { source: { type: 'string' }, grant: { oneOf: [{ const: 'manifest' }, { $ref: '#/components/schemas/Grant' }] }, config: { type: 'object' }, keepData: { type: 'boolean' } },
          }),
        },
        responses: { '201': ok('Installed', { $ref: '#/components/schemas/Plugin' }), ...errors, '502': problem },
      },
    },
    '/api/plugins/{id}': {
      get: { summary: 'One installed plugin', security: manage, parameters: [id], responses: { '200': pluginResponse, ...errors } },
      delete: {
        summary: 'Remove a plugin; its data is kept for its package unless purge',
        security: manage,
        parameters: [id, { name: 'purge', in: 'query', schema: { type: 'boolean' } }, { name: 'force', in: 'query', schema: { type: 'boolean' } }],
        responses: { '200': ok('Removed', { type: 'object' }), ...errors },
      },
    },
    '/api/plugins/{id}/update': {
      post: {
        summary: 'Update a plugin; 409 with the capability difference until a grant covers it',
        security: manage,
        parameters: [id],
        requestBody: { content: json({ type: 'object', properties: { source: { type: 'string' }, grant: { oneOf: [{ const: 'manifest' }, { $ref: '#/components/schemas/Grant' }] }, keepData: { type: 'boolean' } } }) },
        responses: { '200': ok('Updated', { type: 'object', required: ['from', 'to', 'plugin'], properties: { from: { type: 'string' }, to: { type: 'string' }, added: { type: 'object' }, plugin: { $ref: '#/components/schemas/Plugin' } } }), ...errors },
      },
    },
    '/api/plugins/{id}/enable': { post: { summary: 'Enable and load a plugin', security: manage, parameters: [id], responses: { '200': pluginResponse, ...errors } } },
    '/api/plugins/{id}/disable': {
      post: { summary: 'Disable and unload a plugin', security: manage, parameters: [id, { name: 'force', in: 'query', schema: { type: 'boolean' } }], responses: { '200': pluginResponse, ...errors } },
    },
    '/api/plugins/{id}/grant': {
      put: { summary: 'Replace what a plugin is granted; a running plugin is reloaded with it', security: manage, parameters: [id], requestBody: { required: true, content: json({ $ref: '#/components/schemas/Grant' }) }, responses: { '200': pluginResponse, ...errors } },
    },
    '/api/verify': {
      get: {
        summary: 'Check installed plugins against their recorded hashes and signatures',
        security: manage,
        parameters: [{ name: 'id', in: 'query', schema: { type: 'string' } }],
        responses: { '200': ok('The reports', { type: 'object', required: ['reports'], properties: { reports: { type: 'array', items: { type: 'object', required: ['id', 'ok'], properties: { id: { type: 'string' }, ok: { type: 'boolean' } } } } } }), ...errors },
      },
    },
    '/api/events': {
      get: {
        summary: 'Host events (plugin loaded, installed, updated…; state changes, failures, restarts, failed loads) as server-sent events',
        security: manage,
        responses: {
          '200': {
            description:
              'An SSE stream. Plugin events are {event, id, version}; `plugin-state` is {event, id, from, to, at, error?}, `plugin-failure` {event, id, code, message, fn, at, failures}, `plugin-restarted` {event, id, restarts}, `plugin-load-failed` {event, id, error: {code, message}}',
          },
          ...errors,
          '503': problem,
        },
      },
    },
    '/metrics': {
      get: {
        summary: 'Per-plugin metrics: Prometheus text, or JSON with `Accept: application/json`',
        security: [{ bearer: ['metrics'] }],
        responses: {
          '200': {
            description: 'The figures of every loaded plugin',
            content: {
              'text/plain': { schema: { type: 'string', description: 'The Prometheus text exposition format 0.0.4' } },
              'application/json': { schema: { type: 'object', required: ['plugins'], properties: { plugins: { type: 'array', items: { $ref: '#/components/schemas/PluginMetrics' } } } } },
            },
          },
          ...errors,
        },
      },
    },
  },
} as const;
