// Type-level tests. `expectTypeOf` does nothing at run time: these assertions
// are checked by `tsc --noEmit` (the package's `typecheck` script, whose
// tsconfig includes test/), and every `@ts-expect-error` must stay an error.
import { describe, expectTypeOf, it } from 'vitest';
import { defineTool, type FromSchema, type ObjectSchema } from '../src/index.js';

describe('FromSchema', () => {
  it('maps primitive types', () => {
    expectTypeOf<FromSchema<{ type: 'string' }>>().toEqualTypeOf<string>();
    expectTypeOf<FromSchema<{ type: 'number' }>>().toEqualTypeOf<number>();
    expectTypeOf<FromSchema<{ type: 'integer' }>>().toEqualTypeOf<number>();
    expectTypeOf<FromSchema<{ type: 'boolean' }>>().toEqualTypeOf<boolean>();
    expectTypeOf<FromSchema<{ type: 'null' }>>().toEqualTypeOf<null>();
    expectTypeOf<FromSchema<{}>>().toEqualTypeOf<unknown>();
  });

  it('maps a list of types to a union', () => {
    expectTypeOf<FromSchema<{ type: readonly ['string', 'null'] }>>().toEqualTypeOf<string | null>();
  });

  it('maps enum to a union of its values and const to its value', () => {
    expectTypeOf<FromSchema<{ enum: readonly ['low', 'high'] }>>().toEqualTypeOf<'low' | 'high'>();
    expectTypeOf<FromSchema<{ type: 'string'; enum: readonly ['a'] }>>().toEqualTypeOf<'a'>();
    expectTypeOf<FromSchema<{ const: 42 }>>().toEqualTypeOf<42>();
  });

  it('maps anyOf and oneOf to unions', () => {
    expectTypeOf<FromSchema<{ anyOf: readonly [{ type: 'string' }, { type: 'integer' }] }>>().toEqualTypeOf<string | number>();
    expectTypeOf<FromSchema<{ oneOf: readonly [{ type: 'boolean' }, { const: 'auto' }] }>>().toEqualTypeOf<boolean | 'auto'>();
  });

  it('maps arrays by their items', () => {
    expectTypeOf<FromSchema<{ type: 'array'; items: { type: 'string' } }>>().toEqualTypeOf<string[]>();
    expectTypeOf<FromSchema<{ type: 'array' }>>().toEqualTypeOf<unknown[]>();
  });

  it('makes required properties required and the others optional', () => {
    type T = FromSchema<{
      type: 'object';
      properties: { title: { type: 'string' }; count: { type: 'integer' }; note: { type: 'string' } };
      required: readonly ['title', 'count'];
    }>;
    expectTypeOf<T>().toEqualTypeOf<{ title: string; count: number; note?: string }>();
  });

  it('makes every property optional without required', () => {
    expectTypeOf<FromSchema<{ type: 'object'; properties: { a: { type: 'number' } } }>>().toEqualTypeOf<{ a?: number }>();
  });

  it('maps an object without properties to a record', () => {
    expectTypeOf<FromSchema<{ type: 'object' }>>().toEqualTypeOf<Record<string, unknown>>();
  });

  it('maps nested objects and arrays of objects', () => {
    type T = FromSchema<{
      type: 'object';
      properties: {
        owner: { type: 'object'; properties: { name: { type: 'string' }; age: { type: 'integer' } }; required: readonly ['name'] };
        items: {
          type: 'array';
          items: { type: 'object'; properties: { id: { type: 'integer' }; tags: { type: 'array'; items: { type: 'string' } } }; required: readonly ['id'] };
        };
      };
      required: readonly ['owner', 'items'];
    }>;
    expectTypeOf<T>().toEqualTypeOf<{ owner: { name: string; age?: number }; items: { id: number; tags?: string[] }[] }>();
  });
});

describe('defineTool', () => {
  it('types run arguments from a literal schema', () => {
    defineTool({
      name: 'add_note',
      description: 'Add a note',
      parameters: {
        type: 'object',
        properties: {
          title: { type: 'string' },
          priority: { type: 'string', enum: ['low', 'high'] },
          stars: { type: 'integer' },
          tags: { type: 'array', items: { type: 'string' } },
          links: { type: 'array', items: { type: 'object', properties: { url: { type: 'string' } }, required: ['url'] } },
          meta: { type: 'object', properties: { draft: { type: 'boolean' } } },
        },
        required: ['title', 'priority'],
        additionalProperties: false,
      },
      run: (args) => {
        expectTypeOf(args).toEqualTypeOf<{
          title: string;
          priority: 'low' | 'high';
          stars?: number;
          tags?: string[];
          links?: { url: string }[];
          meta?: { draft?: boolean };
        }>();
        expectTypeOf(args.title).toBeString();
        expectTypeOf(args.stars).toEqualTypeOf<number | undefined>();
        // @ts-expect-error a number property is not a string
        args.stars?.toUpperCase();
        // @ts-expect-error an optional property may be undefined
        args.tags.map((t) => t);
        // @ts-expect-error a property the schema does not declare
        args.body;
        // @ts-expect-error an enum value outside the enum
        const wrong: typeof args.priority = 'medium';
        return { ok: true, wrong };
      },
    });
  });

  it('keeps the result type of run', () => {
    const tool = defineTool({
      name: 'count',
      description: 'Count',
      parameters: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
      run: ({ text }) => ({ words: text.length }),
    });
    expectTypeOf(tool.run).returns.toEqualTypeOf<{ words: number } | Promise<{ words: number }>>();
    expectTypeOf(tool.parameters).toExtend<ObjectSchema>();
  });

  it('accepts only object schemas as parameters', () => {
    defineTool({
      name: 'bad',
      description: 'Bad',
      // @ts-expect-error parameters must be an object schema
      parameters: { type: 'string' },
      run: () => null,
    });
  });
});
