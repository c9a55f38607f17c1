// A source whose every send fails is flagged, not silent: a Facebook pixel
// whose (local stand-in) Graph API refuses the access token with error 190
// turns red on the campaign's Sources with that error and a link to its log,
// the campaign's other pages name it, and the home page warns of it with its
// campaign; once Facebook takes events again and one is delivered, it is back
// to working. At a phone's width and in Russian too. Screenshots in
// /tmp/ui-shots (health-*).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { type FakeDestination, fakeDestination } from '../fake-destination.js';
import { type Browser, openBrowser, type Server, shot, startServer } from './harness.js';

let server: Server;
let browser: Browser;
let page: Page;
let fb: FakeDestination;
let campaign = { id: '', slug: '' };
let pixelId = '';

const REFUSED = 'HTTP 400: Invalid OAuth access token (code 190)';

// biome-ignore lint/performance/useDomNodeTextContent: Playwright's innerText(), not the DOM property
const text = (locator: Locator) => locator.innerText();

interface Health {
  state: string;
  failedInARow: number;
  lastError: string | null;
}

async function api<T>(method: 'GET' | 'POST', path: string, body?: object): Promise<T> {
  const answer = await page.request.fetch(`${server.url}/api/v1${path}`, {
    method,
    ...(body ? { data: body } : {}),
  });
  assert.ok(answer.ok(), await answer.text());
  return (await answer.json()) as T;
}

async function health(): Promise<Health> {
  const { items } = await api<{ items: Array<{ id: string; health: Health }> }>(
    'GET',
    `/campaigns/${campaign.id}/sources`,
  );
  const found = items.find((i) => i.id === pixelId);
  assert.ok(found);
  return found.health;
}

async function untilState(state: string): Promise<Health> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const h = await health();
    if (h.state === state) return h;
    if (Date.now() > deadline) throw new Error(`still ${JSON.stringify(h)}, not ${state}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A click on the campaign link: a Lead event for the pixel. */
async function adClick(n: number): Promise<void> {
  const answer = await fetch(`${server.url}/c/${campaign.slug}?fbclid=IwAR_health_${n}`, {
    redirect: 'manual',
  });
  assert.equal(answer.status, 302);
}

describe('source health UI', () => {
  before(async () => {
    fb = await fakeDestination();
    server = await startServer({
      FACEBOOK_GRAPH_URL: fb.url,
      FORWARD_RETRY_BASE_MS: '200',
      FORWARD_POLL_MS: '100',
    });
    browser = await openBrowser(server.url);
    page = browser.page;
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    await fb?.close();
  });

  test('a pixel whose token Facebook refuses shows failing, with the error and its log', async () => {
    await page.goto(`${server.url}/signup`);
    await page.getByLabel('Email').fill(`health${Date.now()}@example.com`);
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByLabel('Workspace name').fill('Health team');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Welcome, Health team' }).waitFor();
    campaign = await api('POST', '/campaigns', {
      name: 'FB Aviator',
      destinationUrl: 'https://t.me/aviator_bot?start={{tracker.clickid}}',
    });
    const pixel = await api<{ id: string }>('POST', `/campaigns/${campaign.id}/sources`, {
      type: 'facebook',
      name: 'Main pixel',
      pixelId: '123456789012345',
      accessToken: 'EAAB-wrong-token-pasted-0123456789',
    });
    pixelId = pixel.id;

    fb.decide = () => ({
      status: 400,
      body: '{"error":{"message":"Invalid OAuth access token","type":"OAuthException","code":190}}',
    });
    for (let i = 0; i < 3; i++) await adClick(i);
    const failing = await untilState('failing');
    assert.equal(failing.lastError, REFUSED);
    assert.ok(failing.failedInARow >= 3, String(failing.failedInARow));

    await page.goto(`${server.url}/tracker/campaigns/${campaign.id}/sources`);
    const card = page.getByRole('article', { name: 'Main pixel' });
    const alert = card.getByRole('alert');
    await alert.waitFor();
    assert.match(await text(alert), /Failing/);
    assert.match(await text(alert), /Invalid OAuth access token \(code 190\)/);
    assert.match(await text(alert), /attempts in a row failed; nothing has been delivered yet/);
    const badge = alert.locator('.badge-failed');
    const red = await badge.evaluate((el) => getComputedStyle(el).backgroundColor);
    assert.match(red, /^rgb\((1[5-9]\d|2\d\d), \d{1,2}, \d{1,2}\)$/, `a red badge: ${red}`);
    await shot(page, 'health-en-01-sources-failing');

    // The campaign's other pages say so without opening Sources.
    await page.goto(`${server.url}/tracker/campaigns/${campaign.id}`);
    const banner = page.getByRole('alert').filter({ hasText: 'Main pixel' });
    await banner.waitFor();
    assert.match(await text(banner), /not reaching 1 of this campaign’s sources/);
    assert.match(await text(banner), /Invalid OAuth access token \(code 190\)/);
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, 'health-en-02-campaign-banner-phone');
    const fits = await page.evaluate(
      () => document.documentElement.scrollWidth <= window.innerWidth,
    );
    assert.ok(fits, 'nothing spills sideways at 390 px');
    await banner.getByRole('link', { name: 'Open sources' }).click();
    await page.waitForURL(/\/sources$/);
    await card.getByRole('alert').waitFor();
    assert.ok(
      await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
      'the failing card fits at 390 px',
    );
    await shot(page, 'health-en-03-sources-failing-phone');

    // Its log is one click away, filtered to this source.
    await card.getByRole('link', { name: 'Open its log' }).click();
    await page.waitForURL(/\/tracker\/logs\/sources\?/);
    assert.equal(new URL(page.url()).searchParams.get('sourceId'), pixelId);
    await page.getByText(REFUSED).first().waitFor();
    await page.setViewportSize({ width: 1366, height: 860 });
  });

  test('the home page warns of it: the source, its campaign and error, its log and sources a click away', async () => {
    await page.goto(`${server.url}/`);
    const warning = page.getByRole('alert').filter({ hasText: 'Main pixel' });
    await warning.waitFor();
    const said = await text(warning);
    assert.match(said, /Events are not reaching 1 of your sources/);
    assert.match(said, /Main pixel in campaign FB Aviator/);
    assert.match(said, /Invalid OAuth access token \(code 190\)/);
    assert.match(said, /attempts in a row failed; nothing has been delivered yet/);
    // Above the setup steps, where it is seen first.
    const [warningTop, stepsTop] = await Promise.all([
      warning.evaluate((el) => el.getBoundingClientRect().top),
      page.locator('.steps').evaluate((el) => el.getBoundingClientRect().top),
    ]);
    assert.ok(warningTop < stepsTop, `${warningTop} < ${stepsTop}`);
    await shot(page, 'health-en-05-home-warning');

    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('link', { name: 'Open its log' }).waitFor();
    assert.ok(
      await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
      'the warning fits at 390 px',
    );
    await shot(page, 'health-en-06-home-warning-phone');
    await page.getByLabel('Language').selectOption('ru');
    const ru = page.getByRole('alert').filter({ hasText: 'Main pixel' });
    await ru.getByText('События не доходят до ваших источников (1)', { exact: false }).waitFor();
    assert.match(await text(ru), /в кампании FB Aviator/);
    assert.match(await text(ru), /Подряд не прошло попыток: 3/);
    assert.ok(await ru.getByRole('link', { name: 'Открыть лог' }).isVisible());
    assert.ok(
      await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
      'the Russian warning fits at 390 px',
    );
    await shot(page, 'health-ru-02-home-warning-phone');
    await page.getByLabel('Язык').selectOption('en');

    await warning.getByRole('link', { name: 'Campaign sources' }).click();
    await page.waitForURL(new RegExp(`/tracker/campaigns/${campaign.id}/sources$`));
    await page.getByRole('article', { name: 'Main pixel' }).getByRole('alert').waitFor();
    await page.goto(`${server.url}/`);
    await warning.getByRole('link', { name: 'Open its log' }).click();
    await page.waitForURL(/\/tracker\/logs\/sources\?/);
    assert.equal(new URL(page.url()).searchParams.get('sourceId'), pixelId);
    await page.getByText(REFUSED).first().waitFor();
    await page.setViewportSize({ width: 1366, height: 860 });
  });

  test('in Russian the failing source reads in Russian', async () => {
    await page.goto(`${server.url}/tracker/campaigns/${campaign.id}/sources`);
    await page.getByLabel('Language').selectOption('ru');
    const alert = page.getByRole('article', { name: 'Main pixel' }).getByRole('alert');
    await alert.getByText('Ошибки').waitFor();
    assert.match(await text(alert), /Подряд не прошло попыток/);
    assert.match(await text(alert), /Открыть лог/);
    await shot(page, 'health-ru-01-sources-failing');
    await page.getByLabel('Язык').selectOption('en');
  });

  test('once Facebook takes the token and an event is delivered, the source is working again', async () => {
    fb.decide = null;
    fb.fallback = { status: 200, body: '{"events_received":1}' };
    await adClick(10);
    const ok = await untilState('ok');
    assert.equal(ok.failedInARow, 0);
    assert.equal(ok.lastError, null);

    await page.goto(`${server.url}/tracker/campaigns/${campaign.id}/sources`);
    const card = page.getByRole('article', { name: 'Main pixel' });
    await card.getByText('Working').waitFor();
    assert.equal(await card.getByRole('alert').count(), 0);
    assert.equal(await card.getByText(REFUSED).count(), 0);
    await page.goto(`${server.url}/tracker/campaigns/${campaign.id}`);
    await page.getByLabel('Name', { exact: true }).waitFor();
    assert.equal(await page.getByRole('alert').filter({ hasText: 'Main pixel' }).count(), 0);
    await shot(page, 'health-en-04-campaign-ok');
    // Nor does the home page warn any more.
    await page.goto(`${server.url}/`);
    await page.getByRole('heading', { name: 'Welcome, Health team' }).waitFor();
    await page.locator('.steps').waitFor();
    assert.equal(await page.getByRole('alert').count(), 0);
  });
});
