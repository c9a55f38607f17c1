// Who holds a delivery lease, and whether that holder is gone. Every claim
// records its worker as `scope:pid:nonce`; at start a server frees only the
// leases of workers that cannot be running any more, so a second server on
// the same database (or a node of a cluster) never takes rows that another
// live process is sending right now.
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomAlphanumeric } from '../domain/random-id.js';

/**
 * Where a process id means one process: the host name, the boot, and the
 * PID namespace. Cloned machines can share a host name, and containers
 * (with the host's network, or a fixed host name) share it too while each
 * numbers its processes from 1; two of them differ in boot or namespace. A
 * restarted container is a new namespace: its previous incarnation's leases
 * run out rather than being freed. (Where /proc does not tell, as off Linux,
 * the host name alone.)
 */
function processScope(): string {
  const read = (f: () => string) => {
    try {
      return f().trim();
    } catch {
      return '';
    }
  };
  const boot = read(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'));
  const pidNamespace = read(() => readlinkSync('/proc/self/ns/pid')).replace(/\D/g, '');
  return [hostname(), boot, pidNamespace].join('/').replaceAll(':', '.');
}

export const PROCESS_SCOPE = processScope();

/** Owners of the workers of this process that may still hold leases. */
const liveHere = new Set<string>();

/** A new owner for a worker of this process; live until `released`. */
export function newLeaseOwner(): string {
  const owner = `${PROCESS_SCOPE}:${process.pid}:${randomAlphanumeric(8)}`;
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
 * - in this scope (processScope) with this process's id: gone unless it is a
 *   worker of this process (the id was a previous process's);
 * - in this scope with another id: gone if no process has that id;
 * - in another scope, or an owner this code did not write: not known, so
 *   kept; the lease runs out on its own.
 * A process that took a gone one's id keeps its leases until they run out:
 * slower, never twice.
 */
export function leaseOwnerIsGone(
  owner: string,
  exists: (pid: number) => boolean = processExists,
  here: { scope: string; pid: number } = { scope: PROCESS_SCOPE, pid: process.pid },
): boolean {
  const parts = owner.split(':');
  if (parts.length !== 3) return false;
  const [scope, pidText] = parts as [string, string, string];
  const pid = Number(pidText);
  if (scope !== here.scope || !Number.isSafeInteger(pid) || pid <= 0) return false;
  if (pid === here.pid) return !liveHere.has(owner);
  return !exists(pid);
}
