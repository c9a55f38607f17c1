import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Static, Type } from '../../src/http/json-schema.js';

const Body = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    kind: Type.Union([Type.Literal('a'), Type.Literal('b')]),
    note: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    tags: Type.Optional(Type.Array(Type.String(), { maxItems: 4 })),
    params: Type.Optional(Type.Record(Type.String(), Type.String(), { maxProperties: 5 })),
  },
  { additionalProperties: false },
);

test('an object lists its required properties; optional ones are left out of required', () => {
  assert.deepEqual(JSON.parse(JSON.stringify(Body)), {
    type: 'object',
    required: ['name', 'kind'],
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 200 },
      kind: {
        anyOf: [
          { type: 'string', const: 'a' },
          { type: 'string', const: 'b' },
        ],
      },
      note: { anyOf: [{ type: 'string' }, { type: 'null' }] },
      tags: { type: 'array', items: { type: 'string' }, maxItems: 4 },
      params: {
        type: 'object',
        patternProperties: { '^.*$': { type: 'string' } },
        maxProperties: 5,
      },
    },
    additionalProperties: false,
  });
  assert.deepEqual(Object.keys(Type.Object({ a: Type.Optional(Type.String()) })), [
    'type',
    'properties',
  ]);
});

test('Optional marks a copy: the same schema stays required where it is used plainly', () => {
  const Name = Type.String();
  const both = Type.Object({ required: Name, maybe: Type.Optional(Name) });
  assert.deepEqual(both.required, ['required']);
  assert.deepEqual(Type.Object({ again: Name }).required, ['again']);
});

test("a record's keys follow the key schema's pattern", () => {
  const Mapping = Type.Record(Type.String({ pattern: '^[a-z]+$' }), Type.Integer());
  assert.deepEqual(Mapping.patternProperties, { '^[a-z]+$': { type: 'integer' } });
});

// Checked by the type checker (npm run lint, in CI): with a wrong Static, one
// of the expected errors below is missing or a valid value is refused.
test('Static gives the type of what a schema accepts', () => {
  const value: Static<typeof Body> = { name: 'x', kind: 'a', params: { k: 'v' } };
  const full: Static<typeof Body> = { name: 'x', kind: 'b', note: null, tags: ['t'] };
  // @ts-expect-error: kind is one of the literals
  const wrongKind: Static<typeof Body> = { name: 'x', kind: 'c' };
  // @ts-expect-error: name is required
  const missing: Static<typeof Body> = { kind: 'a' };
  assert.ok(value && full && wrongKind && missing);
});
