// One error class and one envelope: `{error:{code,message}}`.

export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new AppError(404, 'not_found', `${what} not found`);

export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

/**
 * Node's error for a request whose client closed the connection before
 * sending all of it. Its code, ECONNRESET, is also a database connection's
 * failure: the message tells them apart.
 */
export function isClientAbort(error: unknown): boolean {
  return (
    error instanceof Error &&
    error.message === 'aborted' &&
    (error as Error & { code?: unknown }).code === 'ECONNRESET'
  );
}
