/**
 * Prompt-template plugins: the host reads each plugin's templates once at
 * load, compiles their variables schemas, checks variables before a plugin
 * renders, and checks what it renders (roles, text, size) before anyone sees it.
 */
import { AirlockError, PluginError } from '../errors.js';
import { errorOf, refusalsOf, type CallOptions, type CallOutcome, type PluginCaller } from '../sandbox/instance.js';
import { explainRefusals } from '../capabilities/refusal.js';
import { checkSchema, compileSchema, formatProblems, type CompiledSchema } from '../schema.js';
import type { TemplateError, TemplateInfo } from '@airlock/wit/host/interfaces/airlock-plugin-prompt-template';

const TEMPLATE_NAME = /^[a-z][a-z0-9_-]{0,63}$/;
const ROLES = new Set(['system', 'user', 'assistant']);
/** At most this many rendered messages. */
export const MAX_PROMPT_MESSAGES = 256;
/** At most this many bytes of UTF-8 across a rendering's message texts: a prompt, not a document dump. */
export const MAX_PROMPT_BYTES = 1024 * 1024;

/** A prompt template as the host shows it. */
export interface PromptInfo {
  /** The template's name, unique within its plugin. */
  name: string;
  /** `<plugin>.<name>`, unique within the host. */
  qualifiedName: string;
  plugin: string;
  description: string;
  /** JSON Schema of the variables object. */
  variables: Record<string, unknown>;
}

/** One rendered message. */
export interface PromptMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** What `host.renderPrompt` resolves with. */
export interface RenderedPrompt {
  messages: PromptMessage[];
}

/** A template with its compiled variables schema, as the host keeps it. */
export interface LoadedPrompt {
  info: PromptInfo;
  variables: CompiledSchema;
}

/** Read defensively: what a plugin's export returned, before the host has checked it. */
type WitTemplateError = Partial<TemplateError>;

function templateError(code: 'PROMPT_FAILED' | 'PLUGIN_ERROR', pluginId: string, outcome: CallOutcome, prefix = ''): PluginError {
  const e = errorOf(outcome) as WitTemplateError | undefined;
  const { message, hint } = explainRefusals(`${prefix}${e?.message ?? String(e)}`, refusalsOf(outcome));
  return new PluginError(code, pluginId, e?.code ?? 'error', message, e?.details, { hint, refused: refusalsOf(outcome) });
}

/** Ask a freshly loaded plugin for its templates and check every one; an invalid one fails the load. */
export async function readTemplates(instance: PluginCaller, pluginId: string): Promise<LoadedPrompt[]> {
  const outcome = await instance.call('promptTemplate.listTemplates', []);
  if (!outcome.ok) throw templateError('PLUGIN_ERROR', pluginId, outcome, 'list-templates failed: ');
  const bad = (what: string) =>
    new AirlockError('COMPONENT_INVALID', `plugin \`${pluginId}\` declares an invalid prompt template: ${what}`, { plugin: pluginId, hint: 'Fix the template definition in the plugin source and rebuild.' });
  if (!Array.isArray(outcome.value)) throw bad('list-templates did not return a list');
  const seen = new Set<string>();
  return (outcome.value as TemplateInfo[]).map((def) => {
    if (typeof def.name !== 'string' || !TEMPLATE_NAME.test(def.name)) throw bad(`name ${JSON.stringify(def.name)} must match ${TEMPLATE_NAME}`);
    if (seen.has(def.name)) throw bad(`name \`${def.name}\` is used twice`);
    seen.add(def.name);
    let variables: Record<string, unknown>;
    try {
      variables = JSON.parse(def.variables);
    } catch (e) {
      throw bad(`\`${def.name}\` variables are not JSON: ${(e as Error).message}`);
    }
    if (typeof variables !== 'object' || variables === null || variables.type !== 'object') {
      throw bad(`\`${def.name}\` variables must be a JSON Schema with "type": "object"`);
    }
    const problems = checkSchema(variables);
    if (problems.length > 0) throw bad(`\`${def.name}\` variables are not a valid JSON Schema: ${formatProblems(problems)}`);
    return {
      info: { name: def.name, qualifiedName: `${pluginId}.${def.name}`, plugin: pluginId, description: def.description, variables },
      variables: compileSchema(variables),
    };
  });
}

/** Check `variables` against the template's schema, render it, and check what came back. */
export async function renderTemplate(instance: PluginCaller, prompt: LoadedPrompt, variables: unknown, options: Pick<CallOptions, 'timeoutMs' | 'signal'> = {}): Promise<RenderedPrompt> {
  const { info } = prompt;
  const problems = variables !== null && typeof variables === 'object' && !Array.isArray(variables) ? prompt.variables.validate(variables) : [{ path: '', message: 'must be an object' }];
  if (problems.length > 0) {
    throw new AirlockError('PROMPT_ARGUMENTS_INVALID', `invalid variables for prompt \`${info.qualifiedName}\`: ${formatProblems(problems)}`, {
      plugin: info.plugin,
      hint: 'Pass variables that match the template\'s `variables` schema (see host.prompts()).',
    });
  }
  const outcome = await instance.call('promptTemplate.render', [info.name, JSON.stringify(variables)], options);
  if (!outcome.ok) throw templateError('PROMPT_FAILED', info.plugin, outcome);
  return { messages: checkMessages(outcome.value, info) };
}

function checkMessages(value: unknown, info: PromptInfo): PromptMessage[] {
  const bad = (what: string) =>
    new AirlockError('PROMPT_RESULT_INVALID', `prompt \`${info.qualifiedName}\` rendered ${what}`, { plugin: info.plugin, hint: 'The plugin must render between 1 and 256 messages of text; fix its render function.' });
  if (!Array.isArray(value) || value.length === 0) throw bad('no messages');
  if (value.length > MAX_PROMPT_MESSAGES) throw bad(`${value.length} messages, more than ${MAX_PROMPT_MESSAGES}`);
  let bytes = 0;
  return value.map((m: Partial<PromptMessage> | null, i) => {
    if (!ROLES.has(m?.role as string)) throw bad(`message ${i} with role ${JSON.stringify(m?.role)}`);
    if (typeof m!.content !== 'string') throw bad(`message ${i} without text`);
    bytes += Buffer.byteLength(m!.content);
    if (bytes > MAX_PROMPT_BYTES) throw bad(`more than ${MAX_PROMPT_BYTES} bytes of text`);
    return { role: m!.role!, content: m!.content };
  });
}
