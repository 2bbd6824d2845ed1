import { describe, expect, it } from 'vitest';
import { checkSchema, compileSchema } from '../src/schema.js';

describe('checkSchema', () => {
  it('accepts valid draft-07 schemas', () => {
    expect(checkSchema({ type: 'object', properties: { a: { type: 'string', minLength: 1 } }, required: ['a'] })).toEqual([]);
    expect(checkSchema({ type: 'object', additionalProperties: false })).toEqual([]);
  });

  it('names what makes a schema invalid', () => {
    expect(checkSchema({ type: 'nope' }).length).toBeGreaterThan(0);
    expect(checkSchema({ type: 'object', required: 'a' })).not.toEqual([]);
    expect(checkSchema({ type: 'string', minLength: -1 })).not.toEqual([]);
  });
});

describe('compileSchema', () => {
  const schema = compileSchema({
    type: 'object',
    properties: { title: { type: 'string', minLength: 1 }, count: { type: ['integer', 'null'] }, tags: { type: 'array', items: { type: 'string' } } },
    required: ['title'],
    additionalProperties: false,
  });

  it('returns no problems for a matching value', () => {
    expect(schema.validate({ title: 'x', count: null, tags: ['a'] })).toEqual([]);
  });

  it('locates each problem with a JSON pointer and a readable message', () => {
    expect(schema.validate({ title: '', count: 'many', tags: ['a', 2], extra: 1 })).toEqual([
      { path: '/title', message: 'String is too short (0 < 1)' },
      { path: '/count', message: 'must be integer or null, not string' },
      { path: '/tags/1', message: 'must be string, not number' },
      { path: '', message: 'has unknown property `extra`' },
    ]);
    expect(schema.validate({})).toEqual([{ path: '', message: 'is missing required property `title`' }]);
    expect(schema.validate('text')).toEqual([{ path: '', message: 'must be object, not string' }]);
  });
});
