/**
 * JSON Schema, typed: a tool's `parameters` schema is written once, as a
 * literal, and its TypeScript argument type follows from it.
 */

/** The subset of JSON Schema that argument types are inferred from (any other keyword is allowed too). */
export interface JsonSchema {
  type?: 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null' | readonly string[];
  description?: string;
  properties?: Readonly<Record<string, JsonSchema>>;
  required?: readonly string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: readonly unknown[];
  const?: unknown;
  anyOf?: readonly JsonSchema[];
  oneOf?: readonly JsonSchema[];
  default?: unknown;
  [keyword: string]: unknown;
}

/** An object schema: what a tool's `parameters` must be. */
export interface ObjectSchema extends JsonSchema {
  type: 'object';
}

type Simplify<T> = { [K in keyof T]: T[K] } & {};

type ObjectFrom<P, R> = Simplify<
  { -readonly [K in keyof P as K extends R ? K : never]: FromSchema<P[K]> } & {
    -readonly [K in keyof P as K extends R ? never : K]?: FromSchema<P[K]>;
  }
>;

type FromType<T, S> = T extends 'string'
  ? string
  : T extends 'number' | 'integer'
    ? number
    : T extends 'boolean'
      ? boolean
      : T extends 'null'
        ? null
        : T extends 'array'
          ? S extends { items: infer I }
            ? FromSchema<I>[]
            : unknown[]
          : T extends 'object'
            ? S extends { properties: infer P }
              ? ObjectFrom<P, S extends { required: readonly (infer R)[] } ? R : never>
              : Record<string, unknown>
            : unknown;

/** The TypeScript type of values that match the JSON Schema `S`. */
export type FromSchema<S> = S extends { const: infer C }
  ? C
  : S extends { enum: readonly (infer E)[] }
    ? E
    : S extends { anyOf: readonly (infer U)[] }
      ? FromSchema<U>
      : S extends { oneOf: readonly (infer U)[] }
        ? FromSchema<U>
        : S extends { type: readonly (infer T)[] }
          ? FromType<T, S>
          : S extends { type: infer T }
            ? FromType<T, S>
            : unknown;
