// The migration that renames the events of destinations saved under a
// network's aliases, on either engine: the destinations are saved as a server
// before the API normalised names saved them (settings and routes as given),
// the migration is marked not applied, and the store opened again must have
// put them right, so that the events they meant reach them.
import assert from 'node:assert/strict';
import { countingPlan } from '../../src/domain/events.js';
import { type DestinationSettings, routeEvents } from '../../src/domain/forwarding.js';
import { newClickid } from '../../src/domain/random-id.js';
import type { RecordEvent, Store } from '../../src/store/store.js';
import { workspaceWithPostback } from '../helpers.js';

export interface SavedUnderAliases {
  workspaceId: string;
  clickid: string;
  action: string;
  pixel: string;
  hook: string;
  disabled: string;
}

export async function saveUnderAliases(store: Store, name: string): Promise<SavedUnderAliases> {
  const { workspaceId } = await workspaceWithPostback(store, name);
  const campaign = await store.createCampaign(
    workspaceId,
    { name, description: '', buyer: '', destinationUrl: 'https://t.me/bot' },
    () => `${name}slug`,
    0,
  );
  const lead = await store.createLead(workspaceId, {
    campaignId: campaign.id,
    externalId: null,
    username: null,
    params: {},
    at: 0,
    newClickid: () => newClickid(0),
  });
  const save = async (label: string, settings: DestinationSettings, enabled = true) =>
    (
      await store.createDestination(
        workspaceId,
        campaign.id,
        { name: label, enabled, settings, secret: null, routes: routeEvents(settings) },
        0,
      )
    ).id;
  return {
    workspaceId,
    clickid: lead.clickid,
    action: await save('action', {
      kind: 'auto_action',
      autoAction: { event: 'emailconf', url: 'https://bot.example/hook', payload: {} },
    }),
    pixel: await save('pixel', {
      kind: 'facebook',
      facebook: {
        pixelId: '1234567890',
        testEventCode: null,
        actionSource: 'chat',
        mapping: { sale: 'Purchase', 'resale#2': 'Subscribe' },
      },
    }),
    hook: await save('hook', {
      kind: 'webhook',
      webhook: { url: 'https://h.example/pb', method: 'GET', events: ['reg'] },
    }),
    disabled: await save(
      'disabled',
      {
        kind: 'auto_action',
        autoAction: { event: 'conf', url: 'https://bot.example/off', payload: {} },
      },
      false,
    ),
  };
}

function event(saved: SavedUnderAliases, name: string, micros: bigint | null): RecordEvent {
  return {
    workspaceId: saved.workspaceId,
    scopeCampaignId: null,
    clickid: saved.clickid,
    postbackId: null,
    micros,
    currency: 'USD',
    tid: micros === null ? null : `${name}-1`,
    fields: {},
    at: 1000,
    windowMs: 60_000,
    log: null,
    note: null,
    plan: countingPlan({
      event: name,
      micros,
      currency: 'USD',
      tid: micros === null ? null : `${name}-1`,
    }),
  };
}

/** The destinations name the events as they are counted, and those events reach them. */
export async function checkRenamed(store: Store, saved: SavedUnderAliases): Promise<void> {
  const ws = saved.workspaceId;
  const settings = async (id: string) => {
    const d = await store.getDestination(ws, id);
    assert.ok(d);
    assert.equal(d.revision, 1, 'the rewrite is a change like any other');
    return d.settings;
  };
  assert.deepEqual(await settings(saved.action), {
    kind: 'auto_action',
    autoAction: { event: 'email_confirmation', url: 'https://bot.example/hook', payload: {} },
  });
  assert.deepEqual(await settings(saved.pixel), {
    kind: 'facebook',
    facebook: {
      pixelId: '1234567890',
      testEventCode: null,
      actionSource: 'chat',
      mapping: { first_deposit: 'Purchase', 'deposit#2': 'Subscribe' },
    },
  });
  assert.deepEqual(await settings(saved.hook), {
    kind: 'webhook',
    webhook: { url: 'https://h.example/pb', method: 'GET', events: ['registration'] },
  });
  assert.deepEqual(await settings(saved.disabled), {
    kind: 'auto_action',
    autoAction: { event: 'email_confirmation', url: 'https://bot.example/off', payload: {} },
  });

  assert.deepEqual(await store.outboxCounts(ws), {});
  for (const [name, micros] of [
    ['email_confirmation', null],
    ['first_deposit', 50_000_000n],
    ['registration', null],
  ] as const) {
    const outcome = await store.recordEvent(event(saved, name, micros));
    assert.equal(outcome.status, 'recorded', name);
  }
  // The action, the pixel and the hook; the disabled action has no routes.
  assert.deepEqual(await store.outboxCounts(ws), { pending: 3 });
}
