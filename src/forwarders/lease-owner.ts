// Who holds a delivery lease, and whether that holder is gone. Every claim
// records its worker as `host:pid:nonce`; at start a server frees only the
// leases of workers that cannot be running any more, so a second server on
// the same database (or a node of a cluster) never takes rows that another
// live process is sending right now.
import { hostname } from 'node:os';
import { randomAlphanumeric } from '../domain/random-id.js';

const HOST = hostname();

/** Owners of the workers of this process that may still hold leases. */
const liveHere = new Set<string>();

/** A new owner for a worker of this process; live until `released`. */
export function newLeaseOwner(): string {
  const owner = `${HOST}:${process.pid}:${randomAlphanumeric(8)}`;
  liveHere.add(owner);
  return owner;
}

/** The worker has stopped and none of its attempts is under way. */
export function releaseLeaseOwner(owner: string): void {
  liveHere.delete(owner);
}

/** Whether a process with this id exists on this host (signal 0 only checks). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, as another user's process.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the worker that leased rows as `owner` is certainly gone, so its
 * leases can be freed now instead of when they run out:
 * - on this host with this process's id: gone unless it is a worker of this
 *   process (the id was the previous incarnation's, as after a restart in a
 *   container, where the server is often process 1);
 * - on this host with another id: gone if no process has that id;
 * - on another host, or an owner this code did not write: not known, so
 *   kept; the lease runs out on its own.
 * A process that took a gone one's id keeps its leases until they run out:
 * slower, never twice.
 */
export function leaseOwnerIsGone(
  owner: string,
  exists: (pid: number) => boolean = processExists,
  here: { host: string; pid: number } = { host: HOST, pid: process.pid },
): boolean {
  const parts = owner.split(':');
  if (parts.length !== 3) return false;
  const [host, pidText] = parts as [string, string, string];
  const pid = Number(pidText);
  if (host !== here.host || !Number.isSafeInteger(pid) || pid <= 0) return false;
  if (pid === here.pid) return !liveHere.has(owner);
  return !exists(pid);
}
