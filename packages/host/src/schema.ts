/**
 * JSON Schema validation of tool arguments and plugin configuration.
 *
 * Schemas come from plugins, which are untrusted, so they are interpreted
 * rather than compiled to code (@cfworker/json-schema): no generated code runs
 * on the host thread, and nothing is paid up front (compiling validators cost
 * ~90 ms of a plugin's load time). A schema must itself be valid draft-07.
 */
import { Validator, type OutputUnit } from '@cfworker/json-schema';
import draft07 from './json-schema-draft-07.json' with { type: 'json' };

/** One way a value fails its schema, located by a JSON pointer (`/tags/0`; empty for the root). */
export interface SchemaProblem {
  path: string;
  message: string;
}

/** Problems as one line: `/title String is too short; (root) has unknown property \`x\``. */
export function formatProblems(problems: readonly SchemaProblem[]): string {
  return problems.map((p) => `${p.path || '(root)'} ${p.message}`).join('; ');
}

export interface CompiledSchema {
  /** Problems with `value`; empty when it matches. */
  validate(value: unknown): SchemaProblem[];
}

let metaValidator: Validator | undefined;

/** Problems that make `schema` not a valid draft-07 JSON Schema. */
export function checkSchema(schema: unknown): SchemaProblem[] {
  metaValidator ??= new Validator(draft07 as object, '7', false);
  return toProblems(metaValidator.validate(schema).errors);
}

/** A validator for `schema` (check it with `checkSchema` first). */
export function compileSchema(schema: object): CompiledSchema {
  const validator = new Validator(schema, '7', false);
  return { validate: (value) => toProblems(validator.validate(value).errors) };
}

/** Keywords whose errors only say "a child failed"; the child's own error says why. */
const WRAPPERS = new Set(['properties', 'items', 'additionalItems', 'allOf', 'patternProperties', 'additionalProperties', '$ref', 'dependencies', 'contains', 'propertyNames']);

function toProblems(errors: OutputUnit[]): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  for (const e of errors) {
    if (WRAPPERS.has(e.keyword)) continue;
    const path = e.instanceLocation.replace(/^#/, '');
    if (e.keyword === 'false') {
      // `additionalProperties: false` reports the extra property against the `false` schema.
      const cut = path.lastIndexOf('/');
      problems.push({ path: path.slice(0, cut), message: `has unknown property \`${decodePointer(path.slice(cut + 1))}\`` });
      continue;
    }
    problems.push({ path, message: readable(e.error) });
  }
  return problems;
}

/** The validator's messages, shortened to read after a path: `/body must be string, not number`. */
function readable(error: string): string {
  const type = /^Instance type "(\w+)" is invalid\. Expected (.+?)\.?$/.exec(error);
  if (type) return `must be ${type[2]!.replace(/"/g, '').split(', ').join(' or ')}, not ${type[1]}`;
  const required = /^Instance does not have required property "(.*)"/.exec(error);
  if (required) return `is missing required property \`${required[1]}\``;
  return error.replace(/\.$/, '');
}

const decodePointer = (s: string) => decodeURIComponent(s).replace(/~1/g, '/').replace(/~0/g, '~');
