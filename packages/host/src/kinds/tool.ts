/**
 * Tool plugins: the host reads each plugin's tool definitions once at load,
 * compiles their JSON Schemas, and validates arguments before a plugin sees them.
 */
import { AirlockError, PluginError, ToolArgumentsError } from '../errors.js';
import { errorOf, refusalsOf, type CallOptions, type CallOutcome, type PluginCaller } from '../sandbox/instance.js';
import { explainRefusals } from '../capabilities/refusal.js';
import { checkSchema, formatProblems } from '../schema.js';
import type { ToolDefinition as WitToolDefinition, ToolError } from '@airlock/wit/host/interfaces/airlock-plugin-tool';

export type RiskLevel = 'read-only' | 'write' | 'risky' | 'dangerous';
const RISKS: readonly RiskLevel[] = ['read-only', 'write', 'risky', 'dangerous'];
const TOOL_NAME = /^[a-z][a-z0-9_-]{0,63}$/;

/** A tool as the host shows it to an agent. */
export interface ToolInfo {
  /** The tool's name, unique within its plugin. */
  name: string;
  /** `<plugin>.<name>`, unique within the host. */
  qualifiedName: string;
  plugin: string;
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
  risk: RiskLevel;
}

/** Read defensively: what a plugin's export returned, before the host has checked it. */
type WitToolError = Partial<ToolError>;

/** The PluginError for a failed tool-plugin call: its `tool-error`, and what the host refused it meanwhile. */
function toolError(code: 'TOOL_FAILED' | 'PLUGIN_ERROR', pluginId: string, outcome: CallOutcome, prefix = ''): PluginError {
  const e = errorOf(outcome) as WitToolError | undefined;
  const refused = refusalsOf(outcome);
  const { message, hint } = explainRefusals(`${prefix}${e?.message ?? String(e)}`, refused);
  return new PluginError(code, pluginId, e?.code ?? 'error', message, e?.details, { hint, refused });
}

/** Ask a freshly loaded plugin for its tools and check every definition. */
export async function readTools(instance: PluginCaller, pluginId: string): Promise<ToolInfo[]> {
  const outcome = await instance.call('tool.listTools', []);
  if (!outcome.ok) throw toolError('PLUGIN_ERROR', pluginId, outcome, 'list-tools failed: ');
  const defs = outcome.value as WitToolDefinition[];
  const bad = (what: string) =>
    new AirlockError('COMPONENT_INVALID', `plugin \`${pluginId}\` declares an invalid tool: ${what}`, { plugin: pluginId, hint: 'Fix the tool definition in the plugin source and rebuild.' });
  const seen = new Set<string>();
  return defs.map((def) => {
    if (!TOOL_NAME.test(def.name)) throw bad(`name ${JSON.stringify(def.name)} must match ${TOOL_NAME}`);
    if (seen.has(def.name)) throw bad(`name \`${def.name}\` is used twice`);
    seen.add(def.name);
    if (!RISKS.includes(def.risk as RiskLevel)) throw bad(`\`${def.name}\` has unknown risk level ${def.risk}`);
    let parameters: Record<string, unknown>;
    try {
      parameters = JSON.parse(def.parameters);
    } catch (e) {
      throw bad(`\`${def.name}\` parameters are not JSON: ${(e as Error).message}`);
    }
    if (typeof parameters !== 'object' || parameters === null || parameters.type !== 'object') {
      throw bad(`\`${def.name}\` parameters must be a JSON Schema with "type": "object"`);
    }
    const problems = checkSchema(parameters);
    if (problems.length > 0) {
      throw bad(`\`${def.name}\` parameters are not a valid JSON Schema: ${formatProblems(problems)}`);
    }
    return { name: def.name, qualifiedName: `${pluginId}.${def.name}`, plugin: pluginId, description: def.description, parameters, risk: def.risk as RiskLevel };
  });
}

/** Validate `args`, call the tool, and parse its JSON result. */
export async function invokeTool(instance: PluginCaller, tool: ToolInfo, args: unknown, options: Pick<CallOptions, 'timeoutMs' | 'signal' | 'onProgress' | 'trace'> = {}): Promise<unknown> {
  // Validated in the plugin's worker, before its code runs: see Request.validate.
  const outcome = await instance.call('tool.callTool', [tool.name, JSON.stringify(args ?? null)], { ...options, validate: true });
  if ('invalid' in outcome) throw new ToolArgumentsError(tool.name, tool.plugin, outcome.invalid);
  if (!outcome.ok) throw toolError('TOOL_FAILED', tool.plugin, outcome);
  if (typeof outcome.value !== 'string') {
    throw new AirlockError('TOOL_RESULT_INVALID', `tool \`${tool.qualifiedName}\` returned a ${typeof outcome.value}, not JSON text`, { plugin: tool.plugin });
  }
  try {
    return JSON.parse(outcome.value);
  } catch (cause) {
    throw new AirlockError('TOOL_RESULT_INVALID', `tool \`${tool.qualifiedName}\` returned malformed JSON: ${(cause as Error).message}`, { plugin: tool.plugin, cause });
  }
}
