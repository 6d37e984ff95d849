// End to end in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core): the two
// example pages against a name server, daemons (TCP and WebSocket) and cinder-gateway on loopback.
// The page calls over the gateway with fetch and over a WebSocket with the typed proxy (a call, an
// error, a stream, a callback, a cancelled call); the test reads the results from the page, saves
// screenshots under test-artifacts/, and measures calls/s from the browser against Node over TCP.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { connect } from '@cinder/cinder';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningExample, startExample } from '../examples/web/server.js';
import type { Shop } from '../examples/web/shop.js';

const CHROMIUM = '/usr/bin/chromium';
const artifacts = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
const haveChromium = existsSync(CHROMIUM);

let example: RunningExample;
let browser: Browser;
const figures: Record<string, unknown> = {};

beforeAll(async () => {
  if (!haveChromium) return;
  mkdirSync(artifacts, { recursive: true });
  example = await startExample();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 30_000,
  });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await example?.close();
  if (Object.keys(figures).length > 0) {
    writeFileSync(`${artifacts}figures.json`, `${JSON.stringify(figures, null, 2)}\n`);
  }
});

async function openPage(name: string, extra = ''): Promise<{ page: Page; results: Record<string, unknown> }> {
  const page = await browser.newPage({ viewport: { width: 1000, height: 600 } });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  await page.goto(`${example.pages}${name}${example.query}${extra}`, { timeout: 30_000 });
  await page.waitForSelector('body[data-done="yes"]', { timeout: 60_000 });
  const results = (await page.evaluate('window.results')) as Record<string, unknown>;
  expect(errors).toEqual([]);
  return { page, results };
}

/** Calls/s from Node over TCP to the same object: one at a time, and 128 in flight. */
async function nodeOverTcp(n: number): Promise<{ sequential: number; parallel: number }> {
  const shop = connect<Shop>(example.tcp);
  try {
    await shop.$bind();
    let t = performance.now();
    for (let i = 0; i < n; i++) await shop.price('x');
    const sequential = n / ((performance.now() - t) / 1000);
    t = performance.now();
    for (let done = 0; done < n; done += 128)
      await Promise.all(Array.from({ length: 128 }, () => shop.price('x')));
    const parallel = (Math.ceil(n / 128) * 128) / ((performance.now() - t) / 1000);
    return { sequential, parallel };
  } finally {
    await shop.$release();
  }
}

describe.skipIf(!haveChromium && !process.env.CI)('in headless Chromium', () => {
  it('the proxy page: a call, an error, a stream, a callback and a cancelled call over a WebSocket', async () => {
    const { page, results } = await openPage('proxy.html', '&bench=2000');
    expect(results.failure).toBeUndefined();
    expect(results.call).toBe(50);
    expect(results.error).toBe('RangeError: no such item: unicorn');
    expect(results.stream).toEqual([0, 1, 2, 3, 4]);
    expect(results.callback).toBe(30);
    expect(results.callbackCalls).toBe(3);
    expect(results.cancel).toBe('AbortedError');
    figures.browserOverWebSocket = results.bench;
    figures.nodeOverTcp = await nodeOverTcp(2000);
    await page.screenshot({ path: `${artifacts}proxy-page.png`, fullPage: true });
    await page.close();
  }, 120_000);

  it('the gateway page: fetch calls through cinder-gateway, with CORS, an error and a refused name', async () => {
    const { page, results } = await openPage('gateway.html', '&bench=300');
    expect(results.failure).toBeUndefined();
    expect(results.call).toEqual({ status: 200, value: 50, correlation: true });
    expect(results.post).toEqual({ status: 200, value: 40 });
    expect(results.meta).toEqual(['count', 'price', 'visit', 'wait']);
    expect(results.error).toEqual({
      status: 500,
      class: 'builtins.ValueError',
      args: ['no such item: unicorn'],
    });
    expect(results.refused).toEqual({
      status: 403,
      text: '403 Forbidden - access to the requested object has been denied',
    });
    figures.browserThroughGateway = results.bench;
    await page.screenshot({ path: `${artifacts}gateway-page.png`, fullPage: true });
    await page.close();
    console.log(`calls/s in one run: ${JSON.stringify(figures)}`);
  }, 120_000);

  it('the index page links both examples, keeping the endpoints', async () => {
    const page = await browser.newPage();
    await page.goto(`${example.pages}${example.query}`, { timeout: 30_000 });
    const hrefs = await page.evaluate("[...document.querySelectorAll('a')].map((a) => a.href)");
    expect(hrefs).toEqual([
      `${example.pages}gateway.html${example.query}`,
      `${example.pages}proxy.html${example.query}`,
    ]);
    await page.screenshot({ path: `${artifacts}index-page.png` });
    await page.close();
  }, 60_000);
});
