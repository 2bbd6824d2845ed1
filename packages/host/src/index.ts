/**
 * @airlock/host — the public API. Everything importable from the package is
 * exported here by name; other modules are internal.
 */
export { createHost, Host, configDefaults } from './host.js';
export { expandConfigTemplates, capabilityItems, grantItems, describeGrantItem, parseGrantItem, grantItemAsAsked, addToGrant, removeFromGrant } from './capabilities/grant.js';
export { CAPABILITY_NAMES, formatBytes } from './capabilities/spec.js';
export type { CapabilityName, CapabilityItem, GrantItem } from './capabilities/spec.js';
export type { HostOptions, HostLimits, LoadOptions, LoadInstalledResult, PluginInfo, LoadedPlugin, PluginStatus, TrialResult, PluginMemory, CallOptions, ToolProgress, HostEvents } from './host.js';
export { FAILURE_DEFAULTS, LATENCY_BUCKETS_MS } from './monitor.js';
export { PROTECTED_PATHS, type HostPolicy } from './policy.js';
export type { AuditRecord, AuditQuery, AuditOptions, AuditCapability } from './audit.js';
export type { PluginQuotas, HostQuotas } from './quotas.js';
export type { PluginState, PluginRuntime, PluginErrorRecord, PluginStateChange, PluginFailureEvent, SandboxFailureCode, FailurePolicy, PluginMetrics, LatencySummary, OriginTraffic } from './monitor.js';
export type { WorkerMemory } from './sandbox/protocol.js';
export { PluginRegistry, HOST_VERSION, capabilityDiff, describeDiff } from './install/registry.js';
export type { InstalledPlugin, SignatureRecord, TrustPolicy, InstallOptions, InstallStep, UpdatePlan, CapabilityDiff, VerifyReport, StoredData, DataOwner, DataOffer } from './install/registry.js';
export { generateKeyPair, signPackage, verifyPackage, manifestDigest } from './install/signing.js';
export type { Verification, Signature } from './install/signing.js';
export { parseSource } from './install/sources.js';
export type { Source, SourceKind } from './install/sources.js';
export { AirlockError, ManifestError, ToolArgumentsError, PluginError, AuthError, ProviderError } from './errors.js';
export type { ErrorCode, AuthErrorCode, ProviderErrorCode, ManifestIssue, AirlockErrorOptions } from './errors.js';
export { parseManifest, readManifest, PLUGIN_KINDS, PLUGIN_ID, HOOK_POINTS } from './manifest.js';
export type { Manifest, PluginKind, Capabilities, Limits, FsAccess, RequiredEnv, CredentialGrant, BoundCredential, HookPoint } from './manifest.js';
export type { HookInfo } from './kinds/hook.js';
export type { Grant } from './capabilities/grant.js';
export type { PublishedEvent } from './capabilities/events.js';
export type { HostInterface, InterfaceCallContext } from './capabilities/interfaces.js';
export { MAX_HOPS as MAX_EVENT_HOPS } from './capabilities/events.js';
export type { ToolInfo, RiskLevel } from './kinds/tool.js';
export type { PromptInfo, PromptMessage, RenderedPrompt } from './kinds/prompt-template.js';
export { approximateTokens } from './kinds/context.js';
export type { ContextOptions, ContextItem, ContextResult, ContextFailure, TokenCounter } from './kinds/context.js';
export { runChatLoop, chatToolNames, ToolCallAssembler, MAX_TOOL_ROUNDS } from './chat-loop.js';
export type { ChatLoopHost, ChatLoopOptions, ChatLoopOutcome, ToolCallEvent, ToolResultEvent } from './chat-loop.js';
export type { ChatRequest, ChatMessage, ChatTool, ChatOptions, ChatResult, ChatStreamEvent, ToolCall, Usage, FinishReason, Role, ProviderInfo, ProviderLimits, ProviderAvailability, ModelInfo } from './kinds/provider.js';
export { redactSecrets } from './redact.js';
export { AuthClient } from './kinds/auth.js';
export type { AuthStatus, Token, DeviceLogin } from './kinds/auth.js';
export type { Redacted } from './redact.js';
export type { StorageAdapter } from './storage/adapter.js';
export type { PluginStorage } from './capabilities/storage.js';
export { openSqliteStorage } from './storage/sqlite.js';
export { stderrLogger } from './logger.js';
export type { Logger, LogEntry, LogLevel } from './logger.js';
export { isSupportedContract, contractTarget, SERVED_CONTRACTS } from './contract.js';
