// Webhook and auto-action requests built from hand-made delivery jobs: URL
// macros and their encoding, the HMAC signature, the events filter and the
// JSON bodies a tracker or a bot receives.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import type { AutoActionSettings, WebhookSettings } from '../../src/domain/forwarding.js';
import type { PreparedDelivery } from '../../src/forwarders/outbound-http.js';
import {
  autoActionRequest,
  renderWebhookUrl,
  SIGNATURE_HEADER,
  sign,
  webhookRequest,
  webhookValues,
} from '../../src/forwarders/webhook.js';
import type { DeliveryJob } from '../../src/store/store.js';

const AT = Date.parse('2026-11-20T12:00:00.250Z');

function job(patch: Partial<DeliveryJob> = {}): DeliveryJob {
  return {
    outboxId: '7',
    lease: { owner: 'test:1:job', until: 0 },
    workspaceId: '1',
    campaignId: '3',
    campaignSlug: 'slug',
    destination: {
      id: '5',
      workspaceId: '1',
      campaignId: '3',
      name: 'Tracker',
      enabled: true,
      settings: { kind: 'webhook', webhook: webhook() },
      secret: null,
      createdAt: AT,
      updatedAt: AT,
      deleted: false,
      revision: 0,
    },
    subject: 'conversion',
    subjectId: '42',
    event: 'deposit',
    occurrence: 2,
    eventAt: AT,
    attempts: 0,
    budgetAttempts: 0,
    queuedAt: AT,
    conversion: { micros: 123_456_789_012_500_000n, currency: 'USDT', tid: 'tx 1&2' },
    lead: {
      clickid: 'AbCdEf123456',
      externalId: '777',
      username: 'bob',
      params: { utm_source: 'fb' },
      createdAt: AT - 1000,
    },
    click: null,
    fields: { geo: 'RU', note: 'a b&c=d/é' },
    ...patch,
  };
}

function webhook(patch: Partial<WebhookSettings> = {}): WebhookSettings {
  return {
    url: 'https://tracker.example/pb?cid={clickid}&sum={amount}&cur={currency}',
    method: 'GET',
    events: [],
    ...patch,
  };
}

function sent(prepared: PreparedDelivery) {
  assert.equal(prepared.kind, 'send', JSON.stringify(prepared));
  if (prepared.kind !== 'send') throw new Error('unreachable');
  return prepared;
}

describe('renderWebhookUrl', () => {
  test('every macro, URL-encoded', () => {
    const url = renderWebhookUrl(
      'https://t.example/p?c={clickid}&e={event}&a={amount}&cur={currency}&tid={tid}&x={external_id}&n={occurrence}&id={event_id}&ts={timestamp}',
      webhookValues(job()),
      {},
    );
    assert.equal(
      url,
      'https://t.example/p?c=AbCdEf123456&e=deposit&a=123456789012.5&cur=USDT&tid=tx%201%262&x=777&n=2&id=cb-cv-42&ts=1795176000',
    );
  });

  test('{fields.<key>}: the lead field encoded, a missing one empty', () => {
    assert.equal(
      renderWebhookUrl(
        'https://t.example/?g={fields.geo}&n={fields.note}&m={fields.missing}',
        {},
        job().fields,
      ),
      'https://t.example/?g=RU&n=a%20b%26c%3Dd%2F%C3%A9&m=',
    );
    assert.equal(
      renderWebhookUrl('https://t.example/?v={fields.user.id-2}', {}, { 'user.id-2': '9' }),
      'https://t.example/?v=9',
    );
  });

  test('macros we do not know are left for the receiver to see', () => {
    const template = 'https://t.example/?a={unknown}&b={CLICKID}&c={{clickid}}&d={}&e={sub_1}';
    assert.equal(
      renderWebhookUrl(template, webhookValues(job()), {}),
      'https://t.example/?a={unknown}&b={CLICKID}&c={AbCdEf123456}&d={}&e={sub_1}',
    );
  });

  test('names of Object.prototype members are unknown macros too', () => {
    // A field the lead never got, or a macro we do not define, must not render
    // as whatever a plain object inherits.
    assert.equal(
      renderWebhookUrl(
        'https://t.example/?a={constructor}&b={__proto__}',
        webhookValues(job()),
        {},
      ),
      'https://t.example/?a={constructor}&b={__proto__}',
    );
  });

  test('a field named like an Object.prototype member that the lead lacks renders empty', () => {
    assert.equal(
      renderWebhookUrl('https://t.example/?a={fields.constructor}', {}, {}),
      'https://t.example/?a=',
    );
  });

  test('values for an event without money or a chat', () => {
    const values = webhookValues(
      job({
        subject: 'click',
        subjectId: '9',
        event: 'click',
        occurrence: 1,
        conversion: null,
        lead: { clickid: 'Zz', externalId: null, username: null, params: {}, createdAt: AT },
      }),
    );
    assert.deepEqual(values, {
      clickid: 'Zz',
      event: 'click',
      amount: '',
      currency: '',
      tid: '',
      external_id: '',
      occurrence: '1',
      event_id: 'cb-ck-9',
      timestamp: String(Math.floor(AT / 1000)),
    });
    const registration = webhookValues(
      job({ event: 'registration', conversion: { micros: null, currency: 'USD', tid: null } }),
    );
    assert.equal(registration.amount, '');
    assert.equal(registration.currency, '', 'no amount, no currency');
  });
});

describe('webhookRequest', () => {
  test('GET: macros in the URL, no body, the Idempotency-Key, the URL signed', () => {
    const prepared = sent(webhookRequest(job(), webhook(), 'hook-secret'));
    const url = 'https://tracker.example/pb?cid=AbCdEf123456&sum=123456789012.5&cur=USDT';
    assert.deepEqual(prepared.request, {
      method: 'GET',
      url,
      headers: {
        'idempotency-key': 'cb-cv-42',
        'x-clickback-event': 'deposit',
        [SIGNATURE_HEADER]: createHmac('sha256', 'hook-secret').update(url).digest('hex'),
      },
      body: null,
    });
    assert.equal(prepared.logText, `GET ${url}`);
    assert.equal(prepared.destinationEvent, null);
  });

  test('GET: the URL signed is the one sent, as Node encodes it', () => {
    const prepared = sent(
      webhookRequest(
        job(),
        webhook({ url: 'https://Tracker.example/pb/{unknown}/ü?cid={clickid}#not-sent' }),
        'hook-secret',
      ),
    );
    const url = 'https://tracker.example/pb/%7Bunknown%7D/%C3%BC?cid=AbCdEf123456';
    assert.equal(prepared.request.url, url);
    assert.equal(
      prepared.request.headers[SIGNATURE_HEADER],
      createHmac('sha256', 'hook-secret').update(url).digest('hex'),
    );
  });

  test('POST: the event as JSON, the body signed', () => {
    const prepared = sent(
      webhookRequest(job(), webhook({ method: 'POST', url: 'https://t.example/in' }), 's3cret'),
    );
    const body = prepared.request.body ?? '';
    assert.deepEqual(JSON.parse(body), {
      eventId: 'cb-cv-42',
      event: 'deposit',
      occurrence: 2,
      clickid: 'AbCdEf123456',
      externalId: '777',
      username: 'bob',
      amount: '123456789012.5',
      currency: 'USDT',
      tid: 'tx 1&2',
      fields: { geo: 'RU', note: 'a b&c=d/é' },
      params: { utm_source: 'fb' },
      campaignId: '3',
      at: '2026-11-20T12:00:00.250Z',
    });
    assert.equal(prepared.request.headers['content-type'], 'application/json');
    assert.equal(prepared.request.headers[SIGNATURE_HEADER], sign('s3cret', body));
    assert.equal(
      prepared.request.headers[SIGNATURE_HEADER],
      createHmac('sha256', 's3cret').update(body).digest('hex'),
    );
    assert.notEqual(
      prepared.request.headers[SIGNATURE_HEADER],
      sign('s3cret', prepared.request.url),
      'POST signs the body, not the URL',
    );
    assert.equal(prepared.logText, `POST https://t.example/in\n\n${body}`);
  });

  test('without a secret there is no signature', () => {
    for (const method of ['GET', 'POST'] as const) {
      const prepared = sent(webhookRequest(job(), webhook({ method }), null));
      assert.equal(prepared.request.headers[SIGNATURE_HEADER], undefined, method);
      assert.equal(prepared.request.headers['idempotency-key'], 'cb-cv-42');
    }
  });

  test('events filter: empty takes all, a name takes every occurrence, `deposit#N` only the Nth', () => {
    const kind = (events: string[], patch: Partial<DeliveryJob>) =>
      webhookRequest(job(patch), webhook({ events }), null).kind;
    assert.equal(kind([], { event: 'withdrawal' }), 'send');
    assert.equal(kind(['deposit'], { event: 'deposit', occurrence: 5 }), 'send');
    assert.equal(kind(['first_deposit'], { event: 'deposit', occurrence: 1 }), 'skip');
    assert.equal(kind(['deposit#2'], { event: 'deposit', occurrence: 2 }), 'send');
    assert.equal(kind(['deposit#2'], { event: 'deposit', occurrence: 1 }), 'skip');
    assert.equal(kind(['deposit#2'], { event: 'deposit', occurrence: 3 }), 'skip');
    assert.equal(kind(['registration', 'deposit#3'], { event: 'deposit', occurrence: 3 }), 'send');
    const skipped = webhookRequest(
      job({ event: 'registration' }),
      webhook({ events: ['deposit'] }),
      null,
    );
    assert.deepEqual(skipped, {
      kind: 'skip',
      destinationEvent: null,
      reason: 'registration is not selected',
    });
  });

  test('the same job gives the same request: a retry is the same event', () => {
    const a = sent(webhookRequest(job(), webhook({ method: 'POST' }), 'k'));
    const b = sent(
      webhookRequest(job({ attempts: 3, budgetAttempts: 1 }), webhook({ method: 'POST' }), 'k'),
    );
    assert.deepEqual(a.request, b.request);
  });
});

describe('autoActionRequest', () => {
  const action: AutoActionSettings = {
    event: 'deposit#2',
    url: 'https://bot.example/hooks/deposit?x={clickid}',
    payload: { message: 'Thanks for the 2nd deposit', tags: ['vip'], n: 1 },
  };

  test('POSTs the event with the action payload, unrendered URL, Idempotency-Key', () => {
    const prepared = sent(autoActionRequest(job(), action));
    assert.equal(prepared.request.method, 'POST');
    assert.equal(prepared.request.url, action.url, 'an auto action URL has no macros');
    assert.deepEqual(prepared.request.headers, {
      'content-type': 'application/json',
      'idempotency-key': 'cb-cv-42',
      'x-clickback-event': 'deposit',
    });
    const body = prepared.request.body ?? '';
    assert.deepEqual(Object.keys(JSON.parse(body)), [
      'event',
      'occurrence',
      'clickid',
      'externalId',
      'amount',
      'currency',
      'fields',
      'payload',
      'eventId',
      'tid',
      'at',
    ]);
    assert.deepEqual(JSON.parse(body), {
      event: 'deposit',
      occurrence: 2,
      clickid: 'AbCdEf123456',
      externalId: '777',
      amount: '123456789012.5',
      currency: 'USDT',
      fields: { geo: 'RU', note: 'a b&c=d/é' },
      payload: { message: 'Thanks for the 2nd deposit', tags: ['vip'], n: 1 },
      eventId: 'cb-cv-42',
      tid: 'tx 1&2',
      at: '2026-11-20T12:00:00.250Z',
    });
    assert.equal(prepared.logText, `POST ${action.url}\n\n${body}`);
  });

  test('an event without money: amount, currency and tid are null', () => {
    const prepared = sent(
      autoActionRequest(
        job({ event: 'contact', subject: 'contact', subjectId: '8', conversion: null }),
        { ...action, event: 'contact' },
      ),
    );
    const body = JSON.parse(prepared.request.body ?? '') as Record<string, unknown>;
    assert.equal(body.amount, null);
    assert.equal(body.currency, null);
    assert.equal(body.tid, null);
    assert.equal(body.eventId, 'cb-ct-8');
  });

  test('amounts are the exact decimal strings', () => {
    const body = (micros: bigint) =>
      JSON.parse(
        sent(autoActionRequest(job({ conversion: { micros, currency: 'USD', tid: null } }), action))
          .request.body ?? '',
      ) as { amount: string };
    assert.equal(body(1n).amount, '0.000001');
    assert.equal(body(-10_000_000n).amount, '-10');
    assert.equal(body(0n).amount, '0');
  });
});
