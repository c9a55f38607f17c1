// The tracker in a real browser: sign up → the Facebook icon → Postbacks → Create
// Postback → the links fired as 1Win and Binomo would → live logs, the lead card,
// Analytics; Russian; a second workspace sees none of it. Screenshots in /tmp/ui-shots.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import {
  type Browser,
  openBrowser,
  placeholderFits,
  type Server,
  shot,
  startServer,
} from './harness.js';

let server: Server;
let browser: Browser;
let page: Page;
const email = `buyer${Date.now()}@example.com`;
let clickUrl = '';
let firstPostbackPath = '';

/** A fresh lead through the campaign's click URL: the redirect carries its clickid. */
async function clickLead(): Promise<string> {
  const answer = await fetch(`${clickUrl}?utm_campaign=e2e&fbclid=AbC123`, {
    redirect: 'manual',
    headers: { 'user-agent': 'e2e-test' },
  });
  assert.equal(answer.status, 302);
  const location = new URL(answer.headers.get('location') ?? '');
  const clickid = location.searchParams.get('start');
  assert.ok(clickid, `no clickid in ${location}`);
  return clickid;
}

async function fire(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = await fetch(url, { headers: { 'user-agent': 'network-e2e/1.0' } });
  return { status: answer.status, body: (await answer.json()) as Record<string, unknown> };
}

/** The rendered text (CSS-transformed, line-broken), as a user reads it. */
// biome-ignore lint/performance/useDomNodeTextContent: Playwright's innerText(), not the DOM property
const text = (locator: Locator) => locator.innerText();

async function tab(name: string): Promise<void> {
  await page
    .getByRole('navigation', { name: 'Tracker sections' })
    .getByRole('link', { name })
    .click();
}

/** Creates a postback through the form; returns its links as shown on the page. */
async function createPostback(name: string, networkLabel: string): Promise<Record<string, string>> {
  await tab('Postbacks');
  await page.getByRole('link', { name: 'Create Postback' }).click();
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Affiliate Network').selectOption({ label: networkLabel });
  assert.equal(await page.getByLabel('Campaign').inputValue(), '', 'Campaign empty by default');
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await page.waitForURL(/\/tracker\/postbacks\/[^/]+\?created=1$/);
  const links: Record<string, string> = {};
  for (const label of ['Registration', 'First Deposit', 'Deposit']) {
    const input = page.getByLabel(label, { exact: true });
    links[label] = await input.inputValue();
    assert.match(links[label] ?? '', /^http:\/\/127\.0\.0\.1:\d+\/api\/postbacks\//);
    const copy = page.locator('.copy-field', { has: input }).getByRole('button');
    assert.equal(await text(copy), 'Copy');
    await copy.click();
    await copy.filter({ hasText: 'Copied' }).waitFor();
    const clip = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(clip, links[label], `clipboard holds the ${label} link`);
  }
  return links;
}

async function totalsCell(col: string): Promise<string> {
  return (await text(page.locator(`tfoot td[data-col="${col}"]`))).trim();
}

describe('tracker UI', () => {
  before(async () => {
    server = await startServer();
    browser = await openBrowser(server.url);
    page = browser.page;
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('sign up and open the tracker through the Facebook icon', async () => {
    await page.goto(server.url);
    await page.waitForURL(/\/login$/);
    await shot(page, 'en-01-login');
    await page.getByRole('link', { name: 'Create one' }).click();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByLabel('Workspace name').fill('Aviator team');
    await shot(page, 'en-02-signup');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Welcome, Aviator team' }).waitFor();
    await shot(page, 'en-03-home');
    await page.getByRole('link', { name: 'Tracker' }).click();
    await page.waitForURL(/\/tracker\/campaigns$/);
    await page.getByText('No campaigns yet').waitFor();
    await shot(page, 'en-04-campaigns-empty');
    // The session survives a reload, and deep links work.
    await page.reload();
    await page.getByText('No campaigns yet').waitFor();
  });

  test('create a campaign with a click URL', async () => {
    await page.getByRole('link', { name: 'New campaign' }).first().click();
    await page.getByLabel('Name', { exact: true }).fill('FB Aviator RU');
    await page.getByLabel('Buyer').fill('alice');
    await page.getByLabel('Destination').fill('https://t.me/aviator_bot?start=');
    await page.getByRole('button', { name: 'Insert {{tracker.clickid}}' }).click();
    assert.equal(
      await page.getByLabel('Destination').inputValue(),
      'https://t.me/aviator_bot?start={{tracker.clickid}}',
    );
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByText('Campaign created').waitFor();
    clickUrl = await page.getByLabel('Click URL').inputValue();
    assert.match(clickUrl, /^http:\/\/127\.0\.0\.1:\d+\/c\/\w+$/);
    await shot(page, 'en-05-campaign-edit');
    await tab('Campaigns');
    await page.getByRole('link', { name: 'FB Aviator RU' }).waitFor();
    await shot(page, 'en-06-campaigns');
  });

  test('a campaign form left open keeps a change made elsewhere meanwhile', async () => {
    await page.getByRole('link', { name: 'FB Aviator RU' }).click();
    await page.getByLabel('Buyer').waitFor();
    assert.equal(await page.getByLabel('Buyer').inputValue(), 'alice');
    const id = /\/tracker\/campaigns\/(\w+)/.exec(page.url())?.[1];
    assert.ok(id, page.url());
    // Someone else (another tab, a script) changes the buyer...
    const status = await page.evaluate(async (campaignId) => {
      const res = await fetch(`/api/v1/campaigns/${campaignId}`, {
        method: 'PATCH',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ buyer: 'bob' }),
      });
      return res.status;
    }, id);
    assert.equal(status, 200);
    // ...while this form, loaded before, changes only the description.
    await page.getByLabel('Description').fill('Aviator, Russian traffic');
    const saved = page.waitForResponse(
      (r) => r.url().endsWith(`/api/v1/campaigns/${id}`) && r.request().method() === 'PATCH',
    );
    await page.getByRole('button', { name: 'Save' }).click();
    const sent = (await saved).request().postDataJSON() as Record<string, unknown>;
    assert.deepEqual(sent, { description: 'Aviator, Russian traffic' }, 'only the changed field');
    // Both changes are kept, and the form now shows the other one too.
    const buyer = page.getByLabel('Buyer');
    for (let i = 0; i < 50 && (await buyer.inputValue()) !== 'bob'; i++) {
      await page.waitForTimeout(100);
    }
    assert.equal(await buyer.inputValue(), 'bob');
    // The form says it saved, until it is changed again.
    const savedNote = page.getByRole('status').filter({ hasText: '✓ Saved' });
    await savedNote.waitFor();
    await shot(page, 'en-05b-campaign-saved-with-other-change');
    await page.getByLabel('Description').fill('Aviator, Russian traffic, edited');
    await savedNote.waitFor({ state: 'detached' });
    await page.getByLabel('Description').fill('Aviator, Russian traffic');
    await savedNote.waitFor();
    const campaign = await page.evaluate(async (campaignId) => {
      const res = await fetch(`/api/v1/campaigns/${campaignId}`, { credentials: 'same-origin' });
      return (await res.json()) as { buyer: string; description: string; name: string };
    }, id);
    assert.equal(campaign.buyer, 'bob');
    assert.equal(campaign.description, 'Aviator, Russian traffic');
    assert.equal(campaign.name, 'FB Aviator RU');
    await tab('Campaigns');
    const name = page.getByRole('link', { name: 'FB Aviator RU' });
    await name.waitFor();
    // The description is a line of its own under the name, not run on after it.
    const nameBox = await name.boundingBox();
    const descriptionBox = await page.getByText('Aviator, Russian traffic').boundingBox();
    assert.ok(nameBox && descriptionBox);
    assert.ok(descriptionBox.y >= nameBox.y + nameBox.height - 1, 'below the name');
    await shot(page, 'en-05c-campaigns-with-description');
  });

  test('1Win: create the postback, copy its links, fire them, watch logs, lead and analytics', async () => {
    await tab('Postbacks');
    await page.getByText('No postbacks yet').waitFor();
    await shot(page, 'en-07-postbacks-empty');
    await page.getByRole('link', { name: 'Create Postback' }).click();
    await page.getByLabel('Affiliate Network').selectOption({ label: 'Custom' });
    await page.getByLabel('Clickid parameter').waitFor();
    await shot(page, 'en-08-postback-form-custom');
    await tab('Postbacks');
    const links = await createPostback('1Win', '1Win');
    firstPostbackPath = new URL(page.url()).pathname;
    assert.match(links.Registration ?? '', /\/registration\?clickid=\{sub1\}$/);
    assert.match(links['First Deposit'] ?? '', /amount=\{amount\}.*tid=\{event_id\}/);

    // The registration link builder.
    await page
      .getByLabel('Network link')
      .fill('https://1wgbch.top/casino/play/aviator?open=register');
    const built = page.getByLabel('Registration link', { exact: true });
    await built.waitFor();
    assert.equal(
      await built.inputValue(),
      'https://1wgbch.top/casino/play/aviator?open=register&sub1={{tracker.clickid}}',
    );
    await shot(page, 'en-09-postback-links');

    await tab('Postbacks');
    await page.getByRole('cell', { name: 'All campaigns' }).waitFor();
    await shot(page, 'en-10-postbacks');

    // Logs are open before anything arrives; what follows must appear without a reload.
    await tab('Logs');
    await page.getByText('No postbacks received yet').waitFor();
    await shot(page, 'en-11-logs-empty');
    await page.evaluate(() => {
      (window as unknown as { marker: number }).marker = 1;
    });

    const clickid = await clickLead();
    const fill = (link: string, amount: string, tid: string) =>
      link.replace('{sub1}', clickid).replace('{amount}', amount).replace('{event_id}', tid);
    const reg = await fire(fill(links.Registration ?? '', '', ''));
    assert.equal(reg.body.status, 'recorded');
    const ftd = await fire(fill(links['First Deposit'] ?? '', '100', 'tx1'));
    assert.equal(ftd.body.status, 'recorded');
    const dep = await fire(fill(links.Deposit ?? '', '50', 'tx2'));
    assert.equal(dep.body.status, 'recorded');
    const retry = await fire(fill(links['First Deposit'] ?? '', '100', 'tx1'));
    assert.equal(retry.body.status, 'duplicate');
    const bad = await fire((links.Registration ?? '').replace('clickid={sub1}', 'foo=bar'));
    assert.equal(bad.status, 400);

    await page.locator('tr.log-row').nth(4).waitFor({ timeout: 8000 });
    assert.equal(await page.locator('tr.log-row').count(), 5);
    assert.equal(
      await page.evaluate(() => (window as unknown as { marker?: number }).marker),
      1,
      'no reload happened',
    );
    const rejected = page.locator('tr.log-row.rejected');
    assert.equal(await rejected.count(), 1);
    assert.match(await text(rejected), /rejected/);
    assert.match(await text(rejected), /400/);
    // Newest first: the rejected one is on top.
    assert.match(await text(page.locator('tr.log-row').first()), /400/);
    // Each row's money, right-aligned: the retried first deposit shows the one it repeats;
    // the registration and the rejected call have none.
    const amountHead = page.getByRole('columnheader', { name: 'Amount' });
    assert.equal(await amountHead.evaluate((el) => getComputedStyle(el).textAlign), 'right');
    const amounts = page.locator('tr.log-row td[data-col="amount"]');
    assert.deepEqual(await amounts.allInnerTexts(), [
      '',
      '100.00 USD',
      '50.00 USD',
      '100.00 USD',
      '',
    ]);
    assert.equal(await amounts.nth(1).evaluate((el) => getComputedStyle(el).textAlign), 'right');
    await shot(page, 'en-12-logs');

    // A row opens the request and our answer.
    await page.locator('tr.log-row').nth(2).getByRole('button').click();
    const detail = page.locator('tr.log-detail');
    await detail.getByText('Our answer').waitFor();
    assert.match(await text(detail), /network-e2e\/1\.0/);
    assert.match(await text(detail), new RegExp(clickid));
    assert.match(await text(detail), /Amount\s*50\.00 USD/);
    await shot(page, 'en-13-logs-detail');
    // On a phone: the table scrolls in its frame, the page does not, and the
    // largest amount there is stays on one line, whole.
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      const overflow = await page.evaluate(() => {
        const cell = document.querySelector('tr.log-row td[data-col="amount"]');
        if (cell) cell.textContent = '999,999,999,999.999999 USDT';
        return {
          page: document.documentElement.scrollWidth - window.innerWidth,
          cut: cell ? cell.scrollWidth > cell.clientWidth : true,
          wrap: cell ? getComputedStyle(cell).whiteSpace : '',
        };
      });
      assert.deepEqual(overflow, { page: 0, cut: false, wrap: 'nowrap' });
      await shot(page, 'en-13b-logs-phone');
    } finally {
      await page.setViewportSize({ width: 1366, height: 860 });
    }

    // Filters: status and search.
    await page.getByLabel('Status').selectOption('rejected');
    await page.waitForFunction(() => document.querySelectorAll('tr.log-row').length === 1);
    await page.getByLabel('Status').selectOption('');
    await page.getByLabel('Search', { exact: true }).fill(clickid);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForFunction(() => document.querySelectorAll('tr.log-row').length === 4);

    // The lead card.
    await tab('Leads');
    await page.getByRole('link', { name: clickid }).waitFor();
    await shot(page, 'en-14-leads');
    // Found by the first characters of its clickid, as copied from a cut-off column.
    const search = page.getByLabel('Search leads');
    assert.equal(await search.getAttribute('placeholder'), 'clickid start, external id, username');
    assert.ok(await placeholderFits(search), 'the search field cuts its placeholder');
    await search.fill(clickid.slice(0, 9));
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForURL(new RegExp(`[?&]q=${clickid.slice(0, 9)}`));
    await page.getByRole('link', { name: clickid }).waitFor();
    await search.fill(`${clickid.slice(0, 9)}~`);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByText(`No lead matches “${clickid.slice(0, 9)}~”.`).waitFor();
    await search.fill(clickid.slice(0, 9));
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('link', { name: clickid }).click();
    await page.getByRole('heading', { name: /Tracker Data/ }).waitFor();
    const timeline = await text(page.locator('.timeline'));
    assert.match(timeline, /Registration/);
    assert.match(timeline, /First deposit\s*\$100\.00/);
    assert.match(timeline, /Deposit\s*\$50\.00/);
    const totals = await text(page.locator('.totals'));
    assert.match(totals, /Deposits\s*\$150\.00/i);
    assert.match(totals, /Balance\s*\$150\.00/i);
    assert.match(await text(page.locator('.kv').first()), /utm_campaign\s*e2e/);
    // Send event: a repeated registration is a duplicate, a withdrawal lowers the balance.
    await page.getByLabel('Event', { exact: true }).selectOption('registration');
    await page.getByRole('button', { name: 'Send event' }).click();
    await page.getByText('Duplicate: this event was already counted').waitFor();
    await page.getByLabel('Event', { exact: true }).selectOption('custom');
    await page.getByLabel('Custom event name').fill('withdrawal');
    await page.getByLabel('Amount').fill('30');
    await page.getByRole('button', { name: 'Send event' }).click();
    await page.getByText('Recorded.').waitFor();
    await page.locator('.totals').getByText('$120.00').waitFor();
    await shot(page, 'en-15-lead-card');
    // On a phone: nothing runs off the screen, no total is cut.
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      const overflow = await page.evaluate(() => {
        // The largest amount a lead can show, in the first total.
        const first = document.querySelector('.totals .kpi-value');
        if (first) first.textContent = '$999,999,999,999,999.999999';
        return {
          page: document.documentElement.scrollWidth - window.innerWidth,
          totals: [...document.querySelectorAll('.totals .kpi')].filter(
            (el) => el.scrollWidth > el.clientWidth,
          ).length,
          email: [...document.querySelectorAll('.topbar-title .muted')].some(
            (el) => (el as HTMLElement).offsetParent !== null,
          ),
        };
      });
      assert.deepEqual(overflow, { page: 0, totals: 0, email: false });
      await shot(page, 'en-15b-lead-card-phone');
    } finally {
      await page.setViewportSize({ width: 1366, height: 860 });
    }

    // Analytics.
    await tab('Analytics');
    await page.locator('tfoot').waitFor();
    assert.equal(await totalsCell('stats.registrations'), '1');
    assert.equal(await totalsCell('stats.ftd'), '1');
    assert.equal(await totalsCell('stats.ftdAmount'), '$100.00');
    assert.equal(await totalsCell('stats.rd'), '1');
    assert.equal(await totalsCell('stats.rdAmount'), '$50.00');
    assert.equal(await totalsCell('stats.clicks'), '1');
    await shot(page, 'en-16-analytics');
  });

  test('Binomo: bare links with its own parameters', async () => {
    const links = await createPostback('Binomo', 'Binomo');
    for (const link of Object.values(links)) assert.ok(!link.includes('?'), `${link} has no query`);
    await page.getByText('Binpartner appends click_id').waitFor();

    await tab('Logs');
    await page.locator('tr.log-row').first().waitFor();
    const before = await page.locator('tr.log-row').count();
    const clickid = await clickLead();
    const reg = await fire(`${links.Registration}?click_id=${clickid}&reg=true`);
    assert.equal(reg.body.status, 'recorded');
    const ftd = await fire(
      `${links['First Deposit']}?click_id=${clickid}&ftd=true&amount=100&transaction_id=b1`,
    );
    assert.equal(ftd.body.status, 'recorded');
    const dep = await fire(
      `${links.Deposit}?click_id=${clickid}&dep=true&amount=25.5&transaction_id=b2`,
    );
    assert.equal(dep.body.status, 'recorded');
    await page.waitForFunction(
      (n) => document.querySelectorAll('tr.log-row').length === n,
      before + 3,
      { timeout: 8000 },
    );
    await page.getByLabel('Postback', { exact: true }).selectOption({ label: 'Binomo' });
    await page.waitForFunction(() => document.querySelectorAll('tr.log-row').length === 3);

    await tab('Leads');
    await page.getByRole('link', { name: clickid }).click();
    await page.locator('.totals').getByText('$125.50').first().waitFor();

    await tab('Analytics');
    await page.getByLabel('Group by').selectOption('postback');
    const row = page.locator('tbody tr', { hasText: 'Binomo' });
    await row.waitFor();
    const cells = await row.locator('td').allInnerTexts();
    // clicks, leads, registrations, CR, FTD, FTD amount, RD, RD amount, total, withdrawals
    assert.equal(cells[2], '1', 'one registration');
    assert.equal(cells[4], '1', 'one first deposit');
    assert.equal(cells[5], '$100.00');
    assert.equal(cells[6], '1', 'one repeat deposit');
    assert.equal(cells[7], '$25.50');
    assert.equal(await totalsCell('stats.registrations'), '2');
    assert.equal(await totalsCell('stats.ftd'), '2');
    await shot(page, 'en-17-analytics-by-postback');
    // CSV export of what is shown.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export CSV' }).click(),
    ]);
    const path = await download.path();
    const { readFileSync } = await import('node:fs');
    const csv = readFileSync(path, 'utf8');
    assert.match(csv, /Postback,Clicks,Leads,Registrations/);
    assert.match(csv, /Binomo,/);
    // By postback: clicks belong to campaigns, not postbacks.
    assert.match(csv, /\r\nTotal,0,0,2,,2,200,2,75.5,275.5,30\r\n$/);

    // Another grouping: until its rows load, the previous grouping's are on
    // screen, and the page must not take a buyer's name for a day.
    const errors: string[] = [];
    const onError = (error: Error) => errors.push(error.message);
    page.on('pageerror', onError);
    await page.getByLabel('Group by').selectOption('buyer');
    await page.locator('tbody tr', { hasText: 'bob' }).waitFor();
    await page.getByLabel('Group by').selectOption('day');
    await page.getByLabel('Group by').selectOption('param');
    await page.getByLabel('Group by').selectOption('buyer');
    await page.locator('tbody tr', { hasText: 'bob' }).waitFor();
    page.off('pageerror', onError);
    assert.deepEqual(errors, []);

    // Amounts in another currency are counted, and can be summed on their own.
    const eur = await fire(
      `${links.Deposit}?click_id=${clickid}&dep=true&amount=9.99&currency=EUR&transaction_id=b3`,
    );
    assert.equal(eur.body.status, 'recorded');
    await page.reload();
    await page.getByText('Amounts in EUR are counted but not summed here').waitFor();
    assert.equal(await totalsCell('stats.rdAmount'), '$75.50');
    await page.getByLabel('Currency').selectOption('EUR');
    await page.waitForFunction(() =>
      document.querySelector('tfoot td[data-col="stats.rdAmount"]')?.textContent?.includes('€'),
    );
    assert.equal(await totalsCell('stats.rdAmount'), '€9.99');
    assert.equal(await totalsCell('stats.rd'), '3', 'counts take every currency');
    await shot(page, 'en-17b-analytics-in-eur');
    // Chosen, it stays offered in a range without it, with the way back.
    const empty = new URL(page.url());
    empty.searchParams.set('from', '2020-01-01');
    empty.searchParams.set('to', '2020-01-02');
    await page.goto(empty.toString());
    await page.getByLabel('Currency').selectOption({ label: 'Most used' });
    await page.waitForURL((url) => !url.searchParams.has('currency'));

    await tab('Dashboard');
    await page.locator('.chart canvas').nth(3).waitFor();
    assert.equal(await page.locator('.chart canvas').count(), 4);
    await shot(page, 'en-18-dashboard');
  });

  test("1Win with the clickid in Chatterfy's sub4; pausing a postback asks first", async () => {
    await tab('Postbacks');
    await page.getByRole('link', { name: 'Create Postback' }).click();
    await page.getByLabel('Name', { exact: true }).fill('1Win sub4');
    await page.getByLabel('Affiliate Network').selectOption({ label: '1Win' });
    const param = page.getByLabel('Clickid parameter');
    assert.equal(await param.inputValue(), 'sub1', "the preset's default");
    await param.fill('sub4');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.waitForURL(/\/tracker\/postbacks\/[^/]+\?created=1$/);
    const registration = await page.getByLabel('Registration', { exact: true }).inputValue();
    assert.match(registration, /[?&]clickid=\{sub4\}/);

    let asked = '';
    page.once('dialog', (dialog) => {
      asked = dialog.message();
      void dialog.dismiss();
    });
    await page.getByRole('button', { name: 'Pause' }).click();
    assert.match(asked, /answered 403 and not counted/);
    await page.getByText('Active', { exact: true }).waitFor();
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByText('Paused', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByText('Active', { exact: true }).waitFor();
  });

  test('API keys on the home page: created (shown once), used by a bot, revoked', async () => {
    await page.getByRole('link', { name: 'Home' }).click();
    await page.getByRole('heading', { name: 'API keys for your bot and scripts' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Aviator bot');
    await page.getByRole('button', { name: 'Create key' }).click();
    const key = await page.getByLabel('Key for Aviator bot').inputValue();
    assert.match(key, /^cbk_/);
    const asBot = (path: string, body: unknown) =>
      fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    assert.equal((await asBot('/api/v1/leads', { externalId: 'tg:42' })).status, 201);
    await shot(page, 'en-19-api-keys');
    await page.reload();
    const row = page.locator('tbody tr', { hasText: 'Aviator bot' });
    assert.ok(!((await row.textContent()) ?? '').includes('never'), 'its use is shown');
    assert.equal(await page.getByLabel('Key for Aviator bot').count(), 0, 'the key is shown once');
    page.once('dialog', (dialog) => void dialog.accept());
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.waitFor({ state: 'detached' });
    assert.equal((await asBot('/api/v1/leads', { externalId: 'tg:43' })).status, 401);
    await page.getByRole('link', { name: 'Tracker' }).click();
    await page.waitForURL(/\/tracker\//);
  });

  test('Russian: labels switch and the choice is remembered', async () => {
    await page.getByLabel('Language').selectOption('ru');
    const sections = page.getByRole('navigation', { name: 'Разделы трекера' });
    await sections.getByRole('link', { name: 'Постбэки' }).waitFor();
    await page.reload();
    await sections.getByRole('link', { name: 'Постбэки' }).waitFor();
    const ru = async (name: string, file: string) => {
      await sections.getByRole('link', { name }).click();
      await page.locator('.page h1').first().waitFor();
      await page.locator('.loading').waitFor({ state: 'detached' });
      await shot(page, file);
    };
    await page.getByRole('link', { name: 'Tracker' }).click();
    await ru('Кампании', 'ru-01-campaigns');
    await page.getByRole('link', { name: 'FB Aviator RU' }).click();
    await page.getByRole('button', { name: 'Сохранить' }).click();
    await page.getByRole('status').filter({ hasText: '✓ Сохранено' }).waitFor();
    await shot(page, 'ru-01b-campaign-saved');
    await ru('Постбэки', 'ru-02-postbacks');
    await page.getByRole('link', { name: '1Win', exact: true }).click();
    await page.getByLabel('Регистрация', { exact: true }).waitFor();
    await page.getByLabel('Первый депозит', { exact: true }).waitFor();
    await shot(page, 'ru-03-postback-links');
    await sections.getByRole('link', { name: 'Постбэки' }).click();
    await page.getByRole('link', { name: 'Создать постбэк' }).click();
    await page.getByLabel('Партнёрская сеть').waitFor();
    await shot(page, 'ru-04-postback-form');
    await ru('Лиды', 'ru-05-leads');
    assert.ok(
      await placeholderFits(page.getByLabel('Поиск лидов')),
      'the search field cuts its Russian placeholder',
    );
    await page.locator('tbody a.mono').first().click();
    await page.getByRole('heading', { name: /Данные трекера/ }).waitFor();
    await shot(page, 'ru-06-lead-card');
    await ru('Логи', 'ru-07-logs');
    await page.getByRole('columnheader', { name: 'Сумма' }).waitFor();
    assert.match(await text(page.locator('tr.log-row').first()), /9,99\sEUR/);
    await page.locator('tr.log-row').first().getByRole('button').click();
    await page.getByText('Наш ответ').waitFor();
    await shot(page, 'ru-08-logs-detail');
    await ru('Аналитика', 'ru-09-analytics');
    assert.match(await text(page.locator('thead')), /РЕГИСТРАЦИИ|Регистрации/);
    await ru('Дашборд', 'ru-10-dashboard');
    await page.locator('.chart canvas').nth(3).waitFor();
    await shot(page, 'ru-10-dashboard');
    await page.getByRole('link', { name: 'Главная' }).click();
    await shot(page, 'ru-11-home');
    await page.getByRole('button', { name: 'Выйти' }).click();
    await page.getByRole('heading', { name: 'Вход' }).waitFor();
    await shot(page, 'ru-12-login');
    // Log back in, switch back to English for the rest.
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Пароль').fill('correct horse battery');
    await page.getByRole('button', { name: 'Войти' }).click();
    await page.getByLabel('Язык').selectOption('en');
    await page.getByRole('heading', { name: 'Welcome, Aviator team' }).waitFor();
  });

  test('a second workspace sees none of it', async () => {
    const other = await openBrowser(server.url);
    try {
      const p = other.page;
      await p.goto(`${server.url}/signup`);
      await p.getByLabel('Email').fill(`other${Date.now()}@example.com`);
      await p.getByLabel('Password').fill('another strong one');
      await p.getByRole('button', { name: 'Create account' }).click();
      await p.getByRole('link', { name: 'Tracker' }).click();
      const sections = p.getByRole('navigation', { name: 'Tracker sections' });
      await p.getByText('No campaigns yet').waitFor();
      await sections.getByRole('link', { name: 'Postbacks' }).click();
      await p.getByText('No postbacks yet').waitFor();
      await sections.getByRole('link', { name: 'Leads' }).click();
      await p.getByText('No leads yet').waitFor();
      await sections.getByRole('link', { name: 'Logs' }).click();
      await p.getByText('No postbacks received yet').waitFor();
      await sections.getByRole('link', { name: 'Analytics' }).click();
      await p.getByText('Nothing in this period').waitFor();
      // The first workspace's postback answers 404 here, shown in words.
      await p.goto(`${server.url}${firstPostbackPath}`);
      await p.getByRole('alert').waitFor();
      assert.match(await text(p.getByRole('alert')), /no longer exists|another workspace/);
      await shot(p, 'en-19-other-workspace-404');
    } finally {
      await other.close();
    }
  });
});
