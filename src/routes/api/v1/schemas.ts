// Shared request schemas: every string bounded.
import { Type } from '../../../http/json-schema.js';

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 32 }) });
export const ClickidParams = Type.Object({ clickid: Type.String({ minLength: 1, maxLength: 64 }) });
export const Limit = Type.Integer({ minimum: 1, maximum: 200, default: 50 });
export const Cursor = Type.String({ maxLength: 64 });
export const Amount = Type.String({ maxLength: 40, description: 'decimal string, e.g. "150.5"' });
export const Currency = Type.String({ minLength: 3, maxLength: 5, description: 'ISO 4217 code' });
/** A display name: at least one visible character. */
export const Name = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' });
/** An http(s) link as pasted: spaces around it (trimmed by the handler), any case of scheme. */
export const HttpUrl = Type.String({ maxLength: 2048, pattern: '^\\s*[Hh][Tt][Tt][Pp][Ss]?://' });
