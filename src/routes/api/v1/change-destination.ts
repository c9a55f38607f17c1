// A change to a source or an auto action, made against concurrent ones.
import { AppError, notFound } from '../../../http/errors.js';
import type { Destination, DestinationInput, Store } from '../../../store/store.js';

/** Tries before a change whose row keeps changing under it gives up (409). */
const TRIES = 5;

/**
 * Reads the destination, merges the change into it and writes the result,
 * unless another change landed in between (merging awaits: sealing a
 * secret, resolving a webhook's host). Then it reads and merges again, so
 * changes made at once each keep their fields instead of the last one
 * writing back what the others replaced.
 */
export async function changeDestination(
  store: Store,
  what: string,
  read: () => Promise<Destination>,
  merge: (current: Destination) => Promise<DestinationInput>,
  now: () => number,
): Promise<Destination> {
  for (let i = 0; i < TRIES; i++) {
    const current = await read();
    const input = await merge(current);
    const updated = await store.updateDestination(
      current.workspaceId,
      current.id,
      input,
      now(),
      current.revision,
    );
    if (updated === null) throw notFound(what);
    if (updated !== 'stale') return updated;
  }
  throw new AppError(
    409,
    'conflict',
    `the ${what} kept changing while this change was made; try again`,
  );
}
