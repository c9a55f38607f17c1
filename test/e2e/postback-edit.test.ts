// A postback configuration's settings changed from its page, in a real browser:
// the Edit form prefilled, Cancel sending nothing, an API refusal shown in the
// form, a new default currency and clickid parameter saved under the same
// token; then a network's postback over plain HTTP counted with both; a custom
// network's macros, and a change of network. On a phone's width and in Russian
// too. Screenshots (edit-*) where the harness keeps them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page, Request } from 'playwright-core';
import { type Browser, openBrowser, type Server, shot, startServer } from './harness.js';

let server: Server;
let browser: Browser;
let page: Page;
let clickUrl = '';
let postbackId = '';
let token = '';
let links: Record<string, string> = {};

// biome-ignore lint/performance/useDomNodeTextContent: Playwright's innerText(), not the DOM property
const text = (locator: Locator) => locator.innerText();

/** The API as the signed-in browser calls it (its session cookie). */
async function apiGet<T>(path: string): Promise<T> {
  const answer = await page.request.get(`${server.url}/api/v1${path}`);
  assert.equal(answer.status(), 200, await answer.text());
  return (await answer.json()) as T;
}

/** The links on the page, by their labels. */
async function linksShown(): Promise<Record<string, string>> {
  const shown: Record<string, string> = {};
  for (const label of ['Registration', 'First Deposit', 'Deposit']) {
    shown[label] = await page.getByLabel(label, { exact: true }).inputValue();
  }
  return shown;
}

/** The PATCH requests the page sends while `run` runs. */
async function patchesDuring(run: () => Promise<void>): Promise<Request[]> {
  const sent: Request[] = [];
  const onRequest = (request: Request) => {
    if (request.method() === 'PATCH') sent.push(request);
  };
  page.on('request', onRequest);
  try {
    await run();
  } finally {
    page.off('request', onRequest);
  }
  return sent;
}

describe('postback settings edited from its page', () => {
  before(async () => {
    server = await startServer();
    browser = await openBrowser(server.url);
    page = browser.page;
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('sign up, a campaign, and a 1Win postback made with the form', async () => {
    await page.goto(`${server.url}/signup`);
    await page.getByLabel('Email').fill(`edit${Date.now()}@example.com`);
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByLabel('Workspace name').fill('Edit team');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Welcome, Edit team' }).waitFor();
    const campaign = await page.request.post(`${server.url}/api/v1/campaigns`, {
      data: {
        name: 'FB Aviator',
        destinationUrl: 'https://t.me/aviator_bot?start={{tracker.clickid}}',
      },
    });
    assert.equal(campaign.status(), 201);
    clickUrl = ((await campaign.json()) as { clickUrl: string }).clickUrl;

    await page.getByRole('link', { name: 'Tracker' }).click();
    await page
      .getByRole('navigation', { name: 'Tracker sections' })
      .getByRole('link', { name: 'Postbacks' })
      .click();
    await page.getByRole('link', { name: 'Create Postback' }).click();
    await page.getByLabel('Name', { exact: true }).fill('1Win main');
    assert.equal(await page.getByLabel('Clickid parameter').inputValue(), 'sub1');
    assert.equal(await page.getByLabel('Default currency').inputValue(), 'USD');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.waitForURL(/\/tracker\/postbacks\/[^/]+\?created=1$/);
    postbackId = /\/tracker\/postbacks\/([^/?]+)/.exec(page.url())?.[1] ?? '';
    links = await linksShown();
    token = /\/api\/postbacks\/([A-Za-z0-9]+)\//.exec(links.Registration ?? '')?.[1] ?? '';
    assert.match(token, /^[A-Za-z0-9]{20,}$/);
    assert.match(links.Registration ?? '', /\?clickid=\{sub1\}$/);
  });

  test('Edit opens the form with the saved values; Cancel sends nothing and changes nothing', async () => {
    await page.getByRole('button', { name: 'Edit' }).click();
    const form = page.getByRole('form', { name: 'Postback settings' });
    await form.waitFor();
    assert.equal(await form.getByLabel('Name', { exact: true }).inputValue(), '1Win main');
    assert.equal(await form.getByLabel('Affiliate Network').inputValue(), '1win');
    assert.equal(await form.getByLabel('Campaign').inputValue(), '', 'all campaigns');
    assert.equal(await form.getByLabel('Clickid parameter').inputValue(), 'sub1');
    assert.equal(await form.getByLabel('Default currency').inputValue(), 'USD');
    assert.match(
      await text(form),
      /The token stays the same, so the links already pasted into 1Win keep reaching this postback/,
    );
    assert.equal(await form.getByText('These changes alter the links').count(), 0);

    const sent = await patchesDuring(async () => {
      await form.getByLabel('Name', { exact: true }).fill('Renamed, then cancelled');
      await form.getByLabel('Default currency').fill('RUB');
      await form.getByRole('button', { name: 'Cancel' }).click();
      await form.waitFor({ state: 'detached' });
    });
    assert.equal(sent.length, 0, 'Cancel sends no PATCH');
    assert.match(await text(page.locator('.page h1')), /^1Win main/);
    assert.match(await text(page.locator('.meta')), /Default currency: USD/);
    const saved = await apiGet<{ name: string; currency: string }>(`/postbacks/${postbackId}`);
    assert.deepEqual([saved.name, saved.currency], ['1Win main', 'USD']);

    // Opened again, the form starts from what is saved, not from what was cancelled.
    await page.getByRole('button', { name: 'Edit' }).click();
    assert.equal(await form.getByLabel('Name', { exact: true }).inputValue(), '1Win main');
    assert.equal(await form.getByLabel('Default currency').inputValue(), 'USD');
  });

  test('a new default currency and clickid parameter: saved, shown, same token', async () => {
    const form = page.getByRole('form', { name: 'Postback settings' });
    // A code the browser lets through but the API does not know: its answer shows in the form.
    await form.getByLabel('Default currency').fill('ZZZ');
    await form.getByRole('button', { name: 'Save' }).click();
    const refusal = form.getByRole('alert');
    await refusal.waitFor();
    assert.match(await text(refusal), /not a currency code we know/);
    await shot(page, 'edit-en-01-refused');

    await form.getByLabel('Clickid parameter').fill('sub7');
    await form.getByText('These changes alter the links').waitFor();
    await form.getByLabel('Default currency').fill('eur');
    const patched = page.waitForResponse(
      (r) =>
        r.url().endsWith(`/api/v1/postbacks/${postbackId}`) && r.request().method() === 'PATCH',
    );
    await form.getByRole('button', { name: 'Save' }).click();
    const answer = await patched;
    assert.equal(answer.status(), 200);
    assert.deepEqual(
      answer.request().postDataJSON(),
      { clickidParam: 'sub7', currency: 'EUR' },
      'only what the form changed',
    );
    await form.waitFor({ state: 'detached' });
    await page.getByText('Saved. The token is the same, but the links changed').waitFor();
    assert.equal(await page.getByText('Postback created').count(), 0);
    assert.ok(!page.url().includes('created=1'), `${page.url()}: "created" is old news`);
    assert.match(
      await text(page.getByRole('status').filter({ hasText: 'Saved.' })),
      /registration link must now carry the clickid in sub7/,
    );
    const meta = await text(page.locator('.meta'));
    assert.match(meta, /Clickid parameter: sub7/);
    assert.match(meta, /Default currency: EUR/);

    // The links, re-rendered from the answer: the same token, the new parameter's macro.
    const shown = await linksShown();
    for (const [label, link] of Object.entries(shown)) {
      assert.ok(link.startsWith(`${server.url}/api/postbacks/${token}/`), `${label}: ${link}`);
      assert.match(link, /\?clickid=\{sub7\}(&|$)/, label);
    }
    assert.equal(shown.Registration, (links.Registration ?? '').replace('{sub1}', '{sub7}'));
    links = shown;
    await page.getByText('The clickid travels in sub7').waitFor();
    await shot(page, 'edit-en-02-saved');

    // The registration link builder carries the new parameter too.
    await page
      .getByLabel('Network link')
      .fill('https://1wgbch.top/casino/play/aviator?open=register');
    const built = page.getByLabel('Registration link', { exact: true });
    await built.waitFor();
    assert.equal(
      await built.inputValue(),
      'https://1wgbch.top/casino/play/aviator?open=register&sub7={{tracker.clickid}}',
    );

    // Saved, not only shown.
    await page.reload();
    await page.locator('.meta').waitFor();
    assert.equal(await page.getByText('Postback created').count(), 0);
    assert.match(
      await text(page.locator('.meta')),
      /Clickid parameter: sub7.*Default currency: EUR/s,
    );
    assert.deepEqual(await linksShown(), shown);
  });

  test("a network's postback without a currency counts in the new one, its clickid in the new parameter", async () => {
    const click = await fetch(clickUrl, { redirect: 'manual' });
    assert.equal(click.status, 302);
    const clickid = new URL(click.headers.get('location') ?? '').searchParams.get('start') ?? '';
    assert.ok(clickid);

    // Registration: the link as 1Win fills it, {sub7} replaced.
    const registration = await fetch((links.Registration ?? '').replace('{sub7}', clickid));
    const registered = (await registration.json()) as Record<string, unknown>;
    assert.equal(registered.status, 'recorded', JSON.stringify(registered));

    // First deposit: the clickid in sub7 itself, as a network appending its own
    // parameters sends it; an amount and no currency.
    const firstDeposit = links['First Deposit'] ?? '';
    assert.ok(firstDeposit.includes('clickid={sub7}'), firstDeposit);
    const url = firstDeposit
      .replace('clickid={sub7}', `sub7=${clickid}`)
      .replace('{amount}', '100')
      .replace('{event_id}', 'tx1');
    assert.ok(!/[?&](clickid|currency)=/.test(url), url);
    const deposit = await fetch(url);
    const counted = (await deposit.json()) as Record<string, unknown>;
    assert.equal(deposit.status, 200, JSON.stringify(counted));
    assert.equal(counted.status, 'recorded', JSON.stringify(counted));
    assert.equal(counted.clickid, clickid);

    const lead = await apiGet<{
      events: {
        event: string;
        amount: string | null;
        currency: string | null;
        postbackId: string;
      }[];
    }>(`/leads/${clickid}`);
    const ftd = lead.events.find((e) => e.event === 'first_deposit');
    assert.deepEqual(
      ftd && { amount: ftd.amount, currency: ftd.currency, postbackId: ftd.postbackId },
      { amount: '100', currency: 'EUR', postbackId },
    );
    assert.deepEqual(
      lead.events.map((e) => e.event),
      ['registration', 'first_deposit'],
    );

    // The lead's card shows each amount whole, in a code Intl knows no symbol
    // for (USDT) as in one it does.
    const manual = await page.request.post(
      `${server.url}/api/v1/leads/${encodeURIComponent(clickid)}/events`,
      { data: { event: 'deposit', amount: '0.123456', currency: 'USDT', tid: 'usdt-1' } },
    );
    assert.equal(manual.status(), 201, await manual.text());
    await page.goto(`${server.url}/tracker/leads/${encodeURIComponent(clickid)}`);
    await page.getByText('0.123456 USDT').first().waitFor();
    await page.getByText('€100.00').first().waitFor();
  });

  test("a custom network's macros are edited; moved to 1Win it gets 1Win's parameter and macros", async () => {
    const created = await page.request.post(`${server.url}/api/v1/postbacks`, {
      data: {
        name: 'Keitaro',
        network: 'custom',
        clickidParam: 'subid',
        macros: { amount: '{payout}', tid: '{tid}' },
      },
    });
    assert.equal(created.status(), 201);
    const custom = (await created.json()) as { id: string; token: string };
    await page.goto(`${server.url}/tracker/postbacks/${custom.id}`);
    await page.getByRole('button', { name: 'Edit' }).click();
    const form = page.getByRole('form', { name: 'Postback settings' });
    assert.equal(await form.getByLabel('Amount macro').inputValue(), '{payout}');
    assert.equal(await form.getByLabel('Transaction id macro').inputValue(), '{tid}');
    assert.equal(await form.getByLabel('Clickid macro').inputValue(), '');
    await form.getByLabel('Amount macro').fill('{revenue}');
    await form.getByText('These changes alter the links').waitFor();
    const patched = page.waitForResponse((r) => r.request().method() === 'PATCH');
    await form.getByRole('button', { name: 'Save' }).click();
    assert.deepEqual((await patched).request().postDataJSON(), {
      macros: { amount: '{revenue}', tid: '{tid}' },
    });
    await page.getByText('Saved. The token is the same, but the links changed').waitFor();
    const base = `${server.url}/api/postbacks/${custom.token}`;
    assert.equal(
      (await linksShown()).Deposit,
      `${base}/deposit?clickid={subid}&amount={revenue}&tid={tid}`,
    );

    // Another network: its own clickid parameter in the form, its own macros in the links.
    await page.getByRole('button', { name: 'Edit' }).click();
    await form.getByLabel('Affiliate Network').selectOption({ label: '1Win' });
    assert.equal(await form.getByLabel('Clickid parameter').inputValue(), 'sub1');
    assert.equal(await form.getByLabel('Amount macro').count(), 0, "macros are the preset's");
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });
    await page.locator('.meta').getByText('1Win').waitFor();
    assert.equal(
      (await linksShown())['First Deposit'],
      `${base}/first_deposit?clickid={sub1}&amount={amount}&tid={event_id}`,
    );
    await shot(page, 'edit-en-04-custom-moved-to-1win');
  });

  test('on a phone the page and its form fit the screen, in English and Russian', async () => {
    await page.goto(`${server.url}/tracker/postbacks/${postbackId}`);
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      const overflow = () =>
        page.evaluate(() => ({
          page: document.documentElement.scrollWidth - window.innerWidth,
          fields: [...document.querySelectorAll('form input, form select, form button')].filter(
            (el) => el.getBoundingClientRect().right > window.innerWidth,
          ).length,
        }));
      await page.getByRole('button', { name: 'Edit' }).click();
      const form = page.getByRole('form', { name: 'Postback settings' });
      await form.waitFor();
      assert.deepEqual(await overflow(), { page: 0, fields: 0 });
      await shot(page, 'edit-en-03-phone-form');

      await page.getByLabel('Language').selectOption('ru');
      const ru = page.getByRole('form', { name: 'Настройки постбэка' });
      await ru.getByText('Токен остаётся прежним').waitFor();
      await ru.getByLabel('Параметр clickid').fill('sub9');
      await ru.getByText('Эти изменения меняют ссылки').waitFor();
      assert.deepEqual(await overflow(), { page: 0, fields: 0 });
      await shot(page, 'edit-ru-01-phone-form');
      await ru.getByRole('button', { name: 'Отмена' }).click();
      await ru.waitFor({ state: 'detached' });
      await page.getByRole('button', { name: 'Изменить' }).waitFor();
      assert.deepEqual(await overflow(), { page: 0, fields: 0 });
      // Every link is shown whole, though a phone fits fewer characters a line.
      const cut = await page.evaluate(() =>
        [...document.querySelectorAll('textarea.copy-text')]
          .filter((el) => el.scrollHeight > el.clientHeight + 1)
          .map((el) => (el as HTMLTextAreaElement).value),
      );
      assert.deepEqual(cut, []);
      await shot(page, 'edit-ru-02-phone-page');
      await page.getByLabel('Язык').selectOption('en');
    } finally {
      await page.setViewportSize({ width: 1366, height: 860 });
    }
    const saved = await apiGet<{ clickidParam: string }>(`/postbacks/${postbackId}`);
    assert.equal(saved.clickidParam, 'sub7', 'cancelled in Russian, nothing changed');
  });
});
