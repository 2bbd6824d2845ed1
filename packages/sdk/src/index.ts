/**
 * @airlock/sdk — write Airlock plugins in TypeScript. This entry is for plugin
 * code (it runs inside the component); the build API is `@airlock/plugin-kit/build`.
 * Everything public is exported here by name.
 */
export { defineTool, defineToolPlugin } from './tool.js';
export type { ToolDefinition, ToolPlugin, AnyTool, RiskLevel } from './tool.js';
export { definePromptPlugin } from './prompt-template.js';
export type { PromptPlugin, PromptMessage, PromptRole, TemplateDefinition } from './prompt-template.js';
export { defineContextPlugin } from './context.js';
export type { ContextPlugin, ContextDefinition, ContextRequest, ContextItem } from './context.js';
export { log, storage, config, credentials, progress, events } from './host.js';
export type { LifecycleHooks } from './lifecycle.js';
export { defineAuthPlugin, AuthError } from './auth.js';
export type { AuthDefinition, AuthPlugin, AuthErrorCode, AuthStatus, DeviceAuthorization, PollOutcome } from './auth.js';
export { defineProviderPlugin, ProviderError } from './provider.js';
export type { ProviderDefinition, ProviderPlugin, ProviderInfoInput, ProviderErrorCode, Availability, ProviderLimits, ChatEvent, ChatRequest, ChatResponse, FinishReason, Message, ModelFeatures, ModelInfo, ProviderInfo, ToolCall, ToolCallDelta, ToolSpec, Usage } from './provider.js';
export { defineHookPlugin } from './hook.js';
export type { HookDefinition, HookPlugin, HookVerdict, HookToolCall, HookToolOutcome, HookChatRequest, HookChatResponse, HookMessage, HookInfo, HookPoint } from './hook.js';
export { env } from './env.js';
export { fs } from './fs.js';
export type { DirEntry, FileStat } from './fs.js';
export type { Token } from './host.js';
export { ToolError, HostError } from './errors.js';
export type { JsonSchema, ObjectSchema, FromSchema } from './schema.js';
