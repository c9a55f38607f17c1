// Schema compilers that do their work after start-up instead of during it.
// Fastify loads Ajv and fast-json-stringify and compiles every route's
// request schemas while it boots: 150-190 ms of a 550 ms start-up here, for
// 51 schemas. Deferred, a route's schemas compile on its first request or,
// from a second after the server listens, in the background one per turn of
// the event loop (a few milliseconds each), so a broken schema still shows
// within two seconds of start-up.
import { createRequire } from 'node:module';
import type { Ajv, ValidateFunction } from 'ajv';
import type {
  FastifySchemaCompiler,
  FastifySerializerCompiler,
  FastifyServerOptions,
} from 'fastify';

const require = createRequire(import.meta.url);

/** Fastify's own defaults, except that unknown properties are kept (and refused by the schema). */
const AJV_OPTIONS = {
  coerceTypes: 'array',
  useDefaults: true,
  removeAdditional: false,
  addUsedSchema: false,
  // One error is enough to answer; collecting all of them is a known DoS.
  allErrors: false,
} as const;

type Validate = ((data: unknown) => boolean) & { errors?: ValidateFunction['errors'] };

/** Request validation with Ajv, loaded and compiled on first use. */
export class LazyValidators {
  private ajv: Ajv | null = null;
  /** Compiles of schemas no request has needed yet. */
  private readonly deferred = new Set<() => void>();

  readonly compiler: FastifySchemaCompiler<unknown> = ({ schema }) => {
    let compiled: ValidateFunction | undefined;
    const compile = () => {
      this.deferred.delete(compile);
      compiled ??= this.loadAjv().compile(schema as object);
      return compiled;
    };
    this.deferred.add(compile);
    const validate: Validate = (data) => {
      const check = compiled ?? compile();
      const ok = check(data);
      validate.errors = check.errors;
      return ok;
    };
    return validate;
  };

  /** For Fastify's schemaController option: the compiler, for every route. */
  readonly factory = ((externalSchemas: Record<string, unknown>) => {
    // Shared schemas would need an Ajv per context that adds them; none do.
    if (Object.keys(externalSchemas).length > 0) {
      throw new Error('shared schemas (addSchema) are not supported: declare them inline');
    }
    return this.compiler;
  }) as unknown as CompilersFactory['buildValidator'];

  /** Schemas registered but not compiled yet. */
  get pending(): number {
    return this.deferred.size;
  }

  /** Compiles the rest, one schema per turn of the event loop; rejects on a broken schema. */
  async compileRest(): Promise<void> {
    for (const compile of this.deferred) {
      await new Promise((resolve) => setImmediate(resolve));
      compile();
    }
  }

  private loadAjv(): Ajv {
    if (this.ajv === null) {
      const { Ajv } = require('ajv') as typeof import('ajv');
      this.ajv = new Ajv(AJV_OPTIONS);
    }
    return this.ajv;
  }
}

type CompilersFactory = NonNullable<
  NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']
>;
type SerializerFactory = (
  externalSchemas: unknown,
  options: unknown,
) => FastifySerializerCompiler<unknown>;

/**
 * Fastify's own response serializers (fast-json-stringify), loaded only when
 * a route declares a response schema; answers without one are JSON.stringify'd
 * either way.
 */
export const lazySerializers = ((externalSchemas: unknown, options: unknown) => {
  const selector = require('@fastify/fast-json-stringify-compiler') as {
    SerializerSelector: () => SerializerFactory;
  };
  return selector.SerializerSelector()(externalSchemas, options);
}) as CompilersFactory['buildSerializer'];
