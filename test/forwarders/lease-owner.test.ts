import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { test } from 'node:test';
import {
  leaseOwnerIsGone,
  newLeaseOwner,
  PROCESS_SCOPE,
  processExists,
  releaseLeaseOwner,
} from '../../src/forwarders/lease-owner.js';

const here = { scope: 'box', pid: 100 };
const alive = new Set([100, 200]);
const exists = (pid: number) => alive.has(pid);

test("an owner in this scope is gone when its process is; another scope's never is", () => {
  assert.equal(leaseOwnerIsGone('box:200:abc', exists, here), false, 'a live process');
  assert.equal(leaseOwnerIsGone('box:300:abc', exists, here), true, 'no such process');
  assert.equal(leaseOwnerIsGone('other:300:abc', exists, here), false, 'cannot be checked');
  for (const odd of ['', 'box', 'box:300', 'box:x:abc', 'box:-3:abc', 'box:300:a:b']) {
    assert.equal(leaseOwnerIsGone(odd, exists, here), false, `kept: ${JSON.stringify(odd)}`);
  }
});

test("this process's id: a worker of this process is live until released; another is a past incarnation", () => {
  const me = { scope: PROCESS_SCOPE, pid: process.pid };
  const owner = newLeaseOwner();
  assert.ok(owner.startsWith(`${me.scope}:${process.pid}:`));
  assert.notEqual(newLeaseOwner(), owner, 'each worker its own');
  assert.equal(
    leaseOwnerIsGone(owner, () => true, me),
    false,
  );
  assert.equal(
    leaseOwnerIsGone(`${me.scope}:${process.pid}:before`, () => true, me),
    true,
  );
  releaseLeaseOwner(owner);
  assert.equal(
    leaseOwnerIsGone(owner, () => true, me),
    true,
  );
});

test('the scope is the host name, the boot and the PID namespace: a container or a cloned machine is another', () => {
  const [host, boot, namespace] = PROCESS_SCOPE.split('/');
  assert.equal(host, hostname());
  assert.equal(boot, readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
  assert.match(namespace ?? '', /^\d+$/);
  assert.ok(!PROCESS_SCOPE.includes(':'), 'the owner splits on colons');
  const mine = newLeaseOwner();
  const elsewhere = { scope: `${host}/${boot}/1`, pid: process.pid };
  assert.equal(
    leaseOwnerIsGone(mine, () => false, elsewhere),
    false,
    'same host name, other namespace: kept',
  );
  releaseLeaseOwner(mine);
});

test('processExists tells a running process from one that has exited', () => {
  assert.equal(processExists(process.pid), true);
  const child = spawnSync(process.execPath, ['-e', '0']);
  assert.equal(child.status, 0);
  // The child has been reaped; its id is free (reuse this soon is very unlikely).
  assert.equal(processExists(child.pid as number), false);
});
