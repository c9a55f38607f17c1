// JSON Schemas for request validation and the OpenAPI reference, built with
// the handful of constructors the routes use, each carrying the TypeScript
// type of what it accepts (Static<typeof schema>). The same calls and the same
// JSON as TypeBox, which this replaces: TypeBox is 370 modules and 125 ms of a
// 460 ms start-up, to build about 50 schemas once.
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyTypeProvider,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';

declare const STATIC: unique symbol;
const OPTIONAL: unique symbol = Symbol('optional');

/** A JSON Schema accepting values of type T (T exists for the compiler only). */
export type TSchema<T = unknown> = { readonly [keyword: string]: unknown } & {
  readonly [STATIC]: T;
};
/** A property that may be absent: not listed in its object's `required`. */
export type TOptional<S extends TSchema> = S & { readonly [OPTIONAL]: true };

export type Static<S> = S extends { readonly [STATIC]: infer T } ? T : never;

type Options = Record<string, unknown>;
type Properties = Record<string, TSchema>;
type OptionalKeys<P> = {
  [K in keyof P]: P[K] extends { readonly [OPTIONAL]: true } ? K : never;
}[keyof P];
type RequiredKeys<P> = Exclude<keyof P, OptionalKeys<P>>;
type Flatten<T> = { [K in keyof T]: T[K] } & {};
type ObjectStatic<P extends Properties> = Flatten<
  { [K in RequiredKeys<P>]: Static<P[K]> } & { [K in OptionalKeys<P>]?: Static<P[K]> }
>;

const schema = <T>(json: Options): TSchema<T> => json as TSchema<T>;

function isOptional(s: TSchema): boolean {
  return (s as { [OPTIONAL]?: true })[OPTIONAL] === true;
}

export const Type = {
  String: (options: Options = {}) => schema<string>({ type: 'string', ...options }),
  Integer: (options: Options = {}) => schema<number>({ type: 'integer', ...options }),
  Boolean: (options: Options = {}) => schema<boolean>({ type: 'boolean', ...options }),
  Null: (options: Options = {}) => schema<null>({ type: 'null', ...options }),

  Literal: <const V extends string | number | boolean>(value: V, options: Options = {}) =>
    schema<V>({ type: typeof value, const: value, ...options }),

  Union: <const S extends readonly TSchema[]>(schemas: S, options: Options = {}) =>
    schema<Static<S[number]>>({ anyOf: schemas, ...options }),

  Array: <S extends TSchema>(items: S, options: Options = {}) =>
    schema<Static<S>[]>({ type: 'array', items, ...options }),

  /**
   * An object whose keys match the key schema's pattern (any key without
   * one). Only the pattern of the key schema is expressed, as in TypeBox;
   * bound the number of keys with maxProperties.
   */
  Record: <V extends TSchema>(key: TSchema<string>, value: V, options: Options = {}) =>
    schema<Record<string, Static<V>>>({
      type: 'object',
      patternProperties: { [(key.pattern as string | undefined) ?? '^.*$']: value },
      ...options,
    }),

  Object: <P extends Properties>(properties: P, options: Options = {}) => {
    const required = Object.keys(properties).filter((k) => !isOptional(properties[k] as TSchema));
    return schema<ObjectStatic<P>>({
      type: 'object',
      ...(required.length > 0 ? { required } : {}),
      properties,
      ...options,
    });
  },

  /** The property may be absent. A copy: the same schema can be required elsewhere. */
  Optional: <S extends TSchema>(s: S): TOptional<S> =>
    Object.assign({ ...s }, { [OPTIONAL]: true as const }) as TOptional<S>,
};

/** Fastify's request types from these schemas (`app.withTypeProvider<SchemaTypeProvider>()`). */
export interface SchemaTypeProvider extends FastifyTypeProvider {
  validator: this['schema'] extends TSchema ? Static<this['schema']> : unknown;
  serializer: this['schema'] extends TSchema ? Static<this['schema']> : unknown;
}

/**
 * The app as a route plugin sees it: a route's params, query and body have
 * the types of its schemas, so the schema is the one place they are written.
 */
export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  SchemaTypeProvider
>;
