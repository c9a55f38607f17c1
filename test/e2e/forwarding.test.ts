// Forwarding in a real browser: a campaign's Facebook pixel (with its event
// mapping), a webhook and an auto action set up through the UI; then traffic and
// postbacks over plain HTTP; local stand-ins for Facebook and the bot check what
// arrives; Source logs show every attempt, a failed one retried automatically and
// again by hand. English and Russian. Screenshots in /tmp/ui-shots (fwd-*).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { type FakeDestination, fakeDestination, type Received } from '../fake-destination.js';
import { type Browser, openBrowser, type Server, shot, startServer } from './harness.js';

let server: Server;
let browser: Browser;
let page: Page;
let fb: FakeDestination;
let bot: FakeDestination;
let campaignId = '';
let clickid = '';

const PIXEL = '123456789012345';
const TOKEN = 'EAAB-e2e-access-token-0123456789';

// biome-ignore lint/performance/useDomNodeTextContent: Playwright's innerText(), not the DOM property
const text = (locator: Locator) => locator.innerText();

interface FacebookEvent {
  event_name: string;
  event_id: string;
  action_source: string;
  user_data: Record<string, unknown>;
  custom_data?: { value?: number; currency?: string };
}

/** Every event Facebook received, with the status it was answered with. */
function facebookEvents(): { event: FacebookEvent; status: number | null; r: Received }[] {
  return fb.received.flatMap((r) => {
    const body = JSON.parse(r.body) as { data: FacebookEvent[] };
    return body.data.map((event) => ({ event, status: r.status, r }));
  });
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The API as the signed-in browser calls it (its session cookie). */
async function apiGet<T>(path: string): Promise<T> {
  const answer = await page.request.get(`${server.url}/api/v1${path}`);
  assert.equal(answer.status(), 200, await answer.text());
  return (await answer.json()) as T;
}

async function apiPatch(path: string, body: Record<string, unknown>): Promise<void> {
  const answer = await page.request.patch(`${server.url}/api/v1${path}`, { data: body });
  assert.equal(answer.status(), 200, await answer.text());
}

async function trackerTab(name: string): Promise<void> {
  await page
    .getByRole('navigation', { name: 'Tracker sections' })
    .getByRole('link', { name })
    .click();
}

async function campaignTab(name: string): Promise<void> {
  await page
    .getByRole('navigation', { name: 'Campaign sections' })
    .getByRole('link', { name })
    .click();
}

describe('forwarding UI', () => {
  before(async () => {
    fb = await fakeDestination();
    bot = await fakeDestination();
    bot.fallback = { status: 200, body: '{"ok":true}' };
    server = await startServer({
      FACEBOOK_GRAPH_URL: fb.url,
      ALLOW_PRIVATE_WEBHOOKS: 'true',
      FORWARD_RETRY_BASE_MS: '200',
      FORWARD_POLL_MS: '100',
    });
    browser = await openBrowser(server.url);
    page = browser.page;
    page.on('dialog', (dialog) => void dialog.accept());
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    await fb?.close();
    await bot?.close();
  });

  test('sign up and create a campaign', async () => {
    await page.goto(`${server.url}/signup`);
    await page.getByLabel('Email').fill(`fwd${Date.now()}@example.com`);
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByLabel('Workspace name').fill('Forwarding team');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Welcome, Forwarding team' }).waitFor();
    await page.getByRole('link', { name: 'Tracker' }).click();
    await page.getByRole('link', { name: 'New campaign' }).first().click();
    await page.getByLabel('Name', { exact: true }).fill('FB Aviator');
    await page.getByLabel('Destination').fill('https://t.me/aviator_bot?start={{tracker.clickid}}');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByText('Campaign created').waitFor();
    const match = /\/tracker\/campaigns\/([^/?]+)/.exec(page.url());
    campaignId = match?.[1] ?? '';
    assert.ok(campaignId, page.url());
  });

  test('Sources: add a Facebook pixel and change its mapping', async () => {
    await campaignTab('Sources');
    await page.waitForURL(/\/sources$/);
    await page.getByText('No sources yet').waitFor();
    await shot(page, 'fwd-en-01-sources-empty');

    await page.getByRole('button', { name: 'Facebook pixel' }).click();
    const form = page.getByRole('form', { name: 'New Facebook pixel' });
    await form.getByLabel('Name', { exact: true }).fill('Pixel Aviator');
    await form.getByLabel('Pixel ID').fill(PIXEL);
    const token = form.getByLabel('Access token');
    assert.equal(await token.getAttribute('type'), 'password');
    await token.fill(TOKEN);
    await form.getByLabel('Test event code').fill('TEST4242');
    await form.getByLabel('Action source').selectOption('chat');
    await shot(page, 'fwd-en-02-facebook-form');
    await form.getByRole('button', { name: 'Add source' }).click();
    await page.getByText('Source “Pixel Aviator” added').waitFor();

    const card = page.getByRole('article', { name: 'Pixel Aviator' });
    const facts = await text(card.locator('.facts'));
    assert.match(facts, new RegExp(PIXEL));
    assert.match(facts, /✓ saved/);
    assert.match(facts, /TEST4242/);
    assert.match(facts, /Chat \(messenger, bot\)/);
    assert.ok(!(await text(card)).includes(TOKEN), 'the token is never shown');
    // The defaults: click → Lead, contact → Contact, registration → CompleteRegistration,
    // first deposit → Purchase, deposits not sent.
    const mapped = (event: string) =>
      card.getByLabel(`Facebook event for ${event}`, { exact: true });
    assert.equal(await mapped('Click').inputValue(), 'Lead');
    assert.equal(await mapped('Registration').inputValue(), 'CompleteRegistration');
    assert.equal(await mapped('First deposit').inputValue(), 'Purchase');
    assert.equal(await mapped('Deposit (every repeat)').inputValue(), '');
    const save = card.getByRole('button', { name: 'Save mapping' });
    assert.ok(await save.isDisabled(), 'nothing to save yet');
    await shot(page, 'fwd-en-03-source-card');

    // Every repeat deposit → a custom event; the 2nd repeat deposit → Subscribe; contacts not sent.
    await mapped('Deposit (every repeat)').selectOption({ label: 'Custom event…' });
    await card.getByLabel('Custom Facebook event for Deposit (every repeat)').fill('Redeposit');
    await mapped('Contact (bot start)').selectOption({ label: '— not sent —' });
    await card.getByLabel('Event', { exact: true }).selectOption({ label: 'Repeat deposit #N' });
    await card.getByLabel('Which repeat deposit').fill('2');
    await card.getByRole('button', { name: 'Add row' }).click();
    await mapped('Repeat deposit #2').selectOption('Subscribe');
    // The same row twice is refused.
    await card.getByRole('button', { name: 'Add row' }).click();
    await card.getByText('Repeat deposit #2 is already in the table.').waitFor();
    await card.getByText('Unsaved changes').waitFor();
    await shot(page, 'fwd-en-04-mapping-edited');
    await save.click();
    await card.getByText('✓ Saved', { exact: true }).waitFor();

    const { items } = await apiGet<{ items: Array<Record<string, unknown>> }>(
      `/campaigns/${campaignId}/sources`,
    );
    assert.equal(items.length, 1);
    assert.deepEqual(items[0]?.mapping, {
      click: 'Lead',
      registration: 'CompleteRegistration',
      first_deposit: 'Purchase',
      deposit: 'Redeposit',
      'deposit#2': 'Subscribe',
    });
    assert.equal(items[0]?.hasAccessToken, true);
    assert.equal(items[0]?.actionSource, 'chat');
    assert.equal(items[0]?.testEventCode, 'TEST4242');

    // After a reload the table shows what was saved.
    await page.reload();
    assert.equal(await mapped('Deposit (every repeat)').inputValue(), '*custom');
    assert.equal(
      await card.getByLabel('Custom Facebook event for Deposit (every repeat)').inputValue(),
      'Redeposit',
    );
    assert.equal(await mapped('Repeat deposit #2').inputValue(), 'Subscribe');

    // Editing without a new token keeps the saved one.
    await card.getByRole('button', { name: 'Edit' }).click();
    const edit = page.getByRole('form', { name: 'Edit “Pixel Aviator”' });
    assert.equal(await edit.getByLabel('Access token').inputValue(), '');
    // A change made elsewhere while the form is open, to a field it leaves alone...
    const sourcePath = `/campaigns/${campaignId}/sources/${items[0]?.id}`;
    await apiPatch(sourcePath, { actionSource: 'website' });
    await edit.getByLabel('Name', { exact: true }).fill('Pixel Aviator RU');
    const patched = page.waitForResponse(
      (r) => r.url().endsWith(`/api/v1${sourcePath}`) && r.request().method() === 'PATCH',
    );
    await edit.getByRole('button', { name: 'Save', exact: true }).click();
    assert.deepEqual((await patched).request().postDataJSON(), { name: 'Pixel Aviator RU' });
    const renamed = page.getByRole('article', { name: 'Pixel Aviator RU' });
    await renamed.waitFor();
    assert.match(await text(renamed.locator('.facts')), /✓ saved/);
    // ...is kept.
    const after = await apiGet<Record<string, unknown>>(sourcePath);
    assert.equal(after.name, 'Pixel Aviator RU');
    assert.equal(after.actionSource, 'website');
    assert.equal(after.testEventCode, 'TEST4242');
    await apiPatch(sourcePath, { actionSource: 'chat' });
  });

  test('Sources: add a webhook with macros, GET, first deposits only', async () => {
    await page.getByRole('button', { name: 'Webhook' }).click();
    const form = page.getByRole('form', { name: 'New webhook' });
    await form.getByLabel('Name', { exact: true }).fill('Keitaro');
    const url = form.getByLabel('URL');
    await url.fill(`${bot.url}/tracker?status={event}&payout={amount}&subid=`);
    await form.getByRole('button', { name: '{clickid}' }).click();
    assert.equal(
      await url.inputValue(),
      `${bot.url}/tracker?status={event}&payout={amount}&subid={clickid}`,
    );
    await form.getByLabel('Method').selectOption('GET');
    await form.getByLabel('Only these events').check();
    await form.getByLabel('First deposit').check();
    await shot(page, 'fwd-en-05-webhook-form');
    await form.getByRole('button', { name: 'Add source' }).click();
    const card = page.getByRole('article', { name: 'Keitaro' });
    await card.waitFor();
    const facts = await text(card.locator('.facts'));
    assert.match(facts, /GET/);
    assert.match(facts, /subid=\{clickid\}/);
    assert.match(facts, /First deposit/);
    assert.match(facts, /not signed/);
    await shot(page, 'fwd-en-06-sources');
  });

  test('Auto actions: the payload must be a JSON object', async () => {
    await campaignTab('Auto actions');
    await page.getByText('No auto actions yet').waitFor();
    await shot(page, 'fwd-en-07-auto-actions-empty');
    await page.getByRole('button', { name: 'Add auto action' }).click();
    const form = page.getByRole('form', { name: 'New auto action' });
    assert.equal(await form.getByLabel('When').inputValue(), 'registration');
    // deposit#N asks for N.
    await form.getByLabel('When').selectOption({ label: 'Repeat deposit #N' });
    await form.getByLabel('Which repeat deposit').waitFor();
    await form.getByLabel('When').selectOption({ label: 'Registration' });
    await form.getByLabel('Bot URL').fill(`${bot.url}/bot/hook`);
    const payload = form.getByLabel('Payload');
    await payload.fill('[1, 2]');
    await form.getByRole('button', { name: 'Create' }).click();
    await form.getByText('The payload must be a JSON object').waitFor();
    await payload.fill('{"step": ');
    await form.getByLabel('Bot URL').focus();
    await form.getByText('This is not valid JSON.').waitFor();
    assert.equal(await payload.getAttribute('aria-invalid'), 'true');
    await shot(page, 'fwd-en-08-auto-action-invalid');
    await payload.fill('{"step": "deposit_prompt"}');
    await form.getByRole('button', { name: 'Create' }).click();
    await page.getByText('Auto action added.').waitFor();
    const row = page.locator('.actions-table tbody tr', { hasText: 'Registration' });
    await row.waitFor();
    assert.match(await text(row), /\/bot\/hook/);
    assert.match(await text(row), /deposit_prompt/);
    assert.equal(await row.getByRole('switch').isChecked(), true);
    await shot(page, 'fwd-en-09-auto-actions');

    // Its edit form sends only what it changed: a payload changed elsewhere
    // while the form is open stays.
    const [action] = (
      await apiGet<{ items: Array<{ id: string }> }>(`/campaigns/${campaignId}/auto-actions`)
    ).items;
    const actionPath = `/campaigns/${campaignId}/auto-actions/${action?.id}`;
    await row.getByRole('button', { name: 'Edit: Registration' }).click();
    const edit = page.getByRole('form', { name: 'Edit auto action' });
    await apiPatch(actionPath, { payload: { step: 'deposit_prompt', lang: 'ru' } });
    await edit.getByLabel('Bot URL').fill(`${bot.url}/bot/hook2`);
    const patched = page.waitForResponse(
      (r) => r.url().endsWith(`/api/v1${actionPath}`) && r.request().method() === 'PATCH',
    );
    await edit.getByRole('button', { name: 'Save', exact: true }).click();
    assert.deepEqual((await patched).request().postDataJSON(), { url: `${bot.url}/bot/hook2` });
    await page.getByText('Auto action saved.').waitFor();
    const [kept] = (
      await apiGet<{ items: Array<{ url: string; payload: unknown }> }>(
        `/campaigns/${campaignId}/auto-actions`,
      )
    ).items;
    assert.equal(kept?.url, `${bot.url}/bot/hook2`);
    assert.deepEqual(kept?.payload, { step: 'deposit_prompt', lang: 'ru' });
    // As it was, for the traffic below.
    await apiPatch(actionPath, { url: `${bot.url}/bot/hook`, payload: { step: 'deposit_prompt' } });
  });

  test('traffic: Facebook gets the mapped events, the bot and the webhook theirs', async () => {
    // Facebook answers the first request with a 500: it must be retried on its own.
    fb.script = [{ status: 500, body: '{"error":{"message":"Service temporarily unavailable"}}' }];

    const campaign = await apiGet<{ clickUrl: string }>(`/campaigns/${campaignId}`);
    const click = await fetch(`${campaign.clickUrl}?fbclid=abc`, {
      redirect: 'manual',
      headers: { 'user-agent': 'e2e-forwarding' },
    });
    assert.equal(click.status, 302);
    clickid = new URL(click.headers.get('location') ?? '').searchParams.get('start') ?? '';
    assert.ok(clickid);

    const created = await page.request.post(`${server.url}/api/v1/postbacks`, {
      data: { name: '1Win', network: '1win' },
    });
    assert.equal(created.status(), 201, await created.text());
    const { links } = (await created.json()) as { links: Record<string, string> };
    const fire = async (link: string | undefined, amount: string, tid: string) => {
      const url = (link ?? '')
        .replace('{sub1}', clickid)
        .replace('{amount}', amount)
        .replace('{event_id}', tid);
      const answer = await fetch(url);
      const body = (await answer.json()) as { status: string };
      assert.equal(body.status, 'recorded', url);
    };
    await fire(links.registration, '', '');
    await fire(links.firstDeposit, '100', 'tx1');
    await fire(links.deposit, '50', 'tx2');

    // Facebook: the click as Lead (after one 500), the registration, the FTD as Purchase,
    // the repeat deposit as the custom Redeposit; the contact is not sent.
    const delivered = () => facebookEvents().filter((e) => e.status === 200);
    await until('four events at Facebook', () => delivered().length >= 4);
    const names = delivered()
      .map((e) => e.event.event_name)
      .sort();
    assert.deepEqual(names, ['CompleteRegistration', 'Lead', 'Purchase', 'Redeposit']);
    for (const { event, r } of delivered()) {
      assert.match(event.event_id, /^cb-/, 'every event has an event_id');
      assert.equal(event.action_source, 'chat');
      assert.ok(r.url.startsWith(`/v24.0/${PIXEL}/events?access_token=`), r.url);
      assert.ok(r.url.includes(encodeURIComponent(TOKEN)));
      assert.equal(
        (JSON.parse(r.body) as { test_event_code?: string }).test_event_code,
        'TEST4242',
      );
      assert.match(String(event.user_data.fbc), /^fb\.1\.\d+\.abc$/);
    }
    const purchase = delivered().find((e) => e.event.event_name === 'Purchase');
    assert.deepEqual(purchase?.event.custom_data, { value: 100, currency: 'USD' });
    const redeposit = delivered().find((e) => e.event.event_name === 'Redeposit');
    assert.deepEqual(redeposit?.event.custom_data, { value: 50, currency: 'USD' });
    const failed = facebookEvents().filter((e) => e.status === 500);
    assert.equal(failed.length, 1);
    assert.ok(
      delivered().some((e) => e.event.event_id === failed[0]?.event.event_id),
      'the failed event was delivered later with the same event_id',
    );

    // The bot: the registration, with the payload; the webhook: the first deposit only.
    await until('the auto action and the webhook', () => bot.received.length >= 2);
    await new Promise((r) => setTimeout(r, 300));
    const hook = bot.received.filter((r) => r.url === '/bot/hook');
    assert.equal(hook.length, 1);
    assert.equal(hook[0]?.method, 'POST');
    const call = JSON.parse(hook[0]?.body ?? '{}') as Record<string, unknown>;
    assert.equal(call.event, 'registration');
    assert.equal(call.clickid, clickid);
    assert.deepEqual(call.payload, { step: 'deposit_prompt' });
    const tracker = bot.received.filter((r) => r.url.startsWith('/tracker'));
    assert.equal(tracker.length, 1, tracker.map((r) => r.url).join(', '));
    assert.equal(tracker[0]?.method, 'GET');
    assert.equal(tracker[0]?.url, `/tracker?status=first_deposit&payout=100&subid=${clickid}`);
  });

  test('Source logs: every attempt, the automatic retry, a manual retry', async () => {
    await trackerTab('Logs');
    await page
      .getByRole('navigation', { name: 'Kinds of logs' })
      .getByRole('link', { name: 'Source logs' })
      .click();
    await page.waitForURL(/\/tracker\/logs\/sources$/);
    const rows = page.locator('tr.delivery-row');
    // Lead (twice), CompleteRegistration, Purchase, Redeposit, the auto action, the webhook.
    await page.waitForFunction(() => document.querySelectorAll('tr.delivery-row').length >= 7);
    assert.equal(await rows.count(), 7);
    const retryRow = rows.filter({ hasText: 'retrying' });
    assert.equal(await retryRow.count(), 1);
    assert.match(await text(retryRow), /Click\s*→\s*Lead/);
    assert.match(await text(retryRow), /500/);
    const leadRows = rows.filter({ hasText: '→ Lead' });
    assert.equal(await leadRows.count(), 2);
    assert.match(await text(leadRows.first()), /delivered/, 'newest first: the retry delivered');
    assert.match(
      await text(rows.filter({ hasText: 'Auto action' })),
      /Registration[\s\S]*delivered/,
    );
    assert.match(await text(rows.filter({ hasText: 'Keitaro' })), /First deposit[\s\S]*delivered/);
    await shot(page, 'fwd-en-10-source-logs');

    // A row opens the request (token redacted) and the answer.
    await retryRow.locator('button.row-toggle').click();
    const detail = page.locator('tr.log-detail');
    await detail.getByText('Answer', { exact: true }).waitFor();
    const shown = await text(detail);
    assert.match(shown, /access_token=\[redacted\]/);
    assert.ok(!shown.includes(TOKEN), 'the token is not in the log');
    assert.match(shown, /Service temporarily unavailable/);
    assert.match(shown, /"event_name":"Lead"/);
    await shot(page, 'fwd-en-11-source-logs-detail');

    // Filters: status, then source.
    await page.getByLabel('Status').selectOption('retrying');
    await page.waitForFunction(() => document.querySelectorAll('tr.delivery-row').length === 1);
    await page.getByLabel('Status').selectOption('');
    await page.getByLabel('Campaign').selectOption({ label: 'FB Aviator' });
    await page.getByLabel('Source', { exact: true }).selectOption({ label: 'Keitaro' });
    await page.waitForFunction(() => document.querySelectorAll('tr.delivery-row').length === 1);
    await page.getByLabel('Source', { exact: true }).selectOption({ label: 'Pixel Aviator RU' });
    await page.waitForFunction(() => document.querySelectorAll('tr.delivery-row').length === 5);
    await page.getByLabel('Event', { exact: true }).fill('click');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForFunction(() => document.querySelectorAll('tr.delivery-row').length === 2);

    // Retry by hand: sent again now with the same event_id, a new delivered row.
    // Counted in events: a request may carry several.
    const before = facebookEvents().length;
    const leadId = facebookEvents().find((e) => e.status === 500)?.event.event_id;
    await rows
      .filter({ hasText: 'retrying' })
      .getByRole('button', { name: /^Retry Click to Pixel Aviator RU/ })
      .click();
    await page.getByText('will be sent to Pixel Aviator RU again now').waitFor();
    await page.waitForFunction(() => document.querySelectorAll('tr.delivery-row').length === 3, {
      timeout: 8000,
    });
    assert.match(await text(rows.first()), /delivered/);
    await until('the manual retry at Facebook', () => facebookEvents().length > before);
    const again = facebookEvents().slice(before);
    assert.equal(again.length, 1);
    assert.equal(again[0]?.event.event_id, leadId, 'the same event_id');
    assert.equal(again[0]?.event.event_name, 'Lead');
    await shot(page, 'fwd-en-12-source-logs-after-retry');
  });

  test('Sources: switch one off, delete one', async () => {
    await page.goto(`${server.url}/tracker/campaigns/${campaignId}/sources`);
    const keitaro = page.getByRole('article', { name: 'Keitaro' });
    const toggle = keitaro.getByRole('switch', { name: 'Send events to “Keitaro”' });
    assert.equal(await toggle.isChecked(), true);
    await toggle.click({ force: true });
    await keitaro.getByText('Off', { exact: true }).waitFor();
    let { items } = await apiGet<{ items: Array<{ name: string; enabled: boolean }> }>(
      `/campaigns/${campaignId}/sources`,
    );
    assert.equal(items.find((s) => s.name === 'Keitaro')?.enabled, false);
    await shot(page, 'fwd-en-13-source-off');
    await keitaro.getByRole('button', { name: 'Delete' }).click();
    await page.getByText('Source “Keitaro” deleted.').waitFor();
    ({ items } = await apiGet<{ items: Array<{ name: string; enabled: boolean }> }>(
      `/campaigns/${campaignId}/sources`,
    ));
    assert.deepEqual(
      items.map((s) => s.name),
      ['Pixel Aviator RU'],
    );
  });

  test('a webhook to a private address is refused, in words', async () => {
    // A server as installed: ALLOW_PRIVATE_WEBHOOKS is off.
    const strict = await startServer();
    const other = await openBrowser(strict.url);
    try {
      const p = other.page;
      await p.goto(`${strict.url}/signup`);
      await p.getByLabel('Email').fill(`strict${Date.now()}@example.com`);
      await p.getByLabel('Password').fill('correct horse battery');
      await p.getByRole('button', { name: 'Create account' }).click();
      await p.getByRole('link', { name: 'Tracker' }).click();
      await p.getByRole('link', { name: 'New campaign' }).first().click();
      await p.getByLabel('Name', { exact: true }).fill('Strict');
      await p.getByLabel('Destination').fill('https://t.me/bot?start={{tracker.clickid}}');
      await p.getByRole('button', { name: 'Create', exact: true }).click();
      await p.getByText('Campaign created').waitFor();
      await p
        .getByRole('navigation', { name: 'Campaign sections' })
        .getByRole('link', { name: 'Sources' })
        .click();
      await p.getByRole('button', { name: 'Webhook' }).click();
      const form = p.getByRole('form', { name: 'New webhook' });
      await form.getByLabel('Name', { exact: true }).fill('Local');
      await form.getByLabel('URL').fill('http://127.0.0.1:9/hook?c={clickid}');
      await form.getByRole('button', { name: 'Add source' }).click();
      await form.getByRole('alert').getByText('private or local address').waitFor();
      await shot(p, 'fwd-en-14-private-address');
      assert.equal(await p.getByRole('article').count(), 0);
    } finally {
      await other.close();
      await strict.stop();
    }
  });

  test('Russian', async () => {
    await page.getByLabel('Language').selectOption('ru');
    const sections = page.getByRole('navigation', { name: 'Разделы кампании' });
    await sections.getByRole('link', { name: 'Источники' }).waitFor();
    await page.getByText('Соответствие событий').waitFor();
    await shot(page, 'fwd-ru-01-sources');
    await page.getByRole('button', { name: 'Вебхук' }).click();
    await page.getByRole('form', { name: 'Новый вебхук' }).waitFor();
    await page.getByLabel('Только эти события').check();
    await shot(page, 'fwd-ru-02-webhook-form');
    await page.getByRole('button', { name: 'Отмена' }).click();
    await page.getByRole('button', { name: 'Изменить' }).click();
    await page.getByRole('form', { name: /Изменить «Pixel Aviator RU»/ }).waitFor();
    await shot(page, 'fwd-ru-03-facebook-edit');
    await page.getByRole('button', { name: 'Отмена' }).click();
    await sections.getByRole('link', { name: 'Автодействия' }).click();
    await page.locator('.actions-table').waitFor();
    await page.getByRole('button', { name: 'Добавить автодействие' }).click();
    await page.getByLabel('Когда').selectOption({ label: 'Своё событие…' });
    await page.getByLabel('Название события').waitFor();
    await shot(page, 'fwd-ru-04-auto-actions');
    await page.getByRole('button', { name: 'Отмена' }).click();
    await page.goto(`${server.url}/tracker/logs/sources`);
    await page.locator('tr.delivery-row').first().waitFor();
    await page.locator('tr.delivery-row').first().getByRole('button').first().click();
    await page.getByText('Ответ', { exact: true }).waitFor();
    await shot(page, 'fwd-ru-05-source-logs');
    await page
      .getByRole('navigation', { name: 'Виды логов' })
      .getByRole('link', { name: 'Логи постбэков' })
      .click();
    await page.locator('tr.log-row').first().waitFor();
    await shot(page, 'fwd-ru-06-postback-logs');
    // A narrow window: the longer Russian labels still fit.
    await page.setViewportSize({ width: 820, height: 900 });
    await page.goto(`${server.url}/tracker/campaigns/${campaignId}/sources`);
    await page.getByText('Соответствие событий').waitFor();
    await shot(page, 'fwd-ru-07-sources-narrow');
    await page.goto(`${server.url}/tracker/logs/sources`);
    await page.locator('tr.delivery-row').first().waitFor();
    await shot(page, 'fwd-ru-08-source-logs-narrow');
    await page.setViewportSize({ width: 1366, height: 860 });
    await page.getByLabel('Язык').selectOption('en');
  });
});
