/**
 * The walk-up pay endpoints' guards over real HTTP (logic only: the node is never reached on these paths, and a
 * node that throws proves it): rate limit and size limit on every endpoint, the C25 TOTP window (stale and
 * foreign codes refused), the deposit range, the arbiter's refusal words when the connector is busy, faulted
 * or inoperative, an unknown withdraw secret, and the `walkup:` config section's rules. The paying flows run on
 * real lnd in test/e2e/walkup-*.regtest.test.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigReader, ConfigInvalid } from '../../daemon/config-reader.js';
import { ManualClock } from '../../hardware/clock.js';
import { totpCounter, totpForCounter } from '../../payments/totp.js';
import { ConnectorArbiter } from '../../wall-module/connector-arbiter.js';
import { readWalkupSection, type WalkupSectionConfig } from '../../wall-module/walkup/config.js';
import {
  isLoopback,
  stopAllowed,
  walkupRoutes,
  WALKUP_MAX_URL_CHARS,
} from '../../wall-module/walkup/routes.js';
import { nodelessWalkupRuntime } from '../support/walkup-runtime.js';

const SECRET = 'unit-walkup-secret-0123456789';
const NOW_MS = Date.UTC(2026, 11, 2, 4, 0, 0);

function section(over: Record<string, unknown> = {}): WalkupSectionConfig {
  const r = ConfigReader.fromYaml(
    JSON.stringify({
      walkup: {
        priceMsatPerWh: 1000,
        publicBaseUrl: 'http://127.0.0.1:1',
        allowHttp: true,
        totpSecret: SECRET,
        validityTimeSec: 30,
        rateLimitPerMinute: 5,
        ...over,
      },
    }),
  );
  const c = readWalkupSection(r.section('walkup'));
  r.done();
  return c;
}

let server: Server | undefined;
afterEach(async () => {
  const s = server;
  server = undefined;
  if (!s) return;
  s.closeAllConnections();
  await new Promise((r) => s.close(r));
});

async function serve(c: WalkupSectionConfig, arbiter = new ConnectorArbiter()): Promise<string> {
  const clock = new ManualClock(NOW_MS);
  const { runtime, store } = nodelessWalkupRuntime({ priceMsatPerWh: c.priceMsatPerWh, arbiter, clock });
  const routes = walkupRoutes({ config: c, runtime, store, arbiter, realNowMs: () => NOW_MS });
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const route = routes.find((r) => r.method === req.method && r.path === path);
    if (route) void route.handle(req, res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

const code = (counter: number, secret = SECRET): string => totpForCounter(secret, counter, 12);
const nowCounter = totpCounter(NOW_MS / 1000, 30);

describe('walk-up pay endpoints: guards', () => {
  it('rate-limits every endpoint per client address (LNURL error, 429)', async () => {
    const base = await serve(section({ rateLimitPerMinute: 5 }));
    const answers = [];
    for (let i = 0; i < 7; i++) answers.push(await fetch(`${base}/walkup/lnurlp?totp=${code(nowCounter)}`));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(await answers[6]!.json()).toMatchObject({ status: 'ERROR', name: 'RateLimited' });
    // the same address is limited on the other endpoints too
    expect((await fetch(`${base}/walkup/api/status`)).status).toBe(429);
    expect((await fetch(`${base}/walkup/withdraw?k1=00`)).status).toBe(429);
  });

  it("lets only the charger's own display stop a session (the pay endpoints face the internet)", () => {
    for (const a of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '127.1.2.3'])
      expect(isLoopback(a), a).toBe(true);
    for (const a of ['192.0.2.7', '::ffff:192.0.2.7', '2001:db8::1', 'fe80::1', undefined])
      expect(isLoopback(a), String(a)).toBe(false);
    // with a kiosk token (e.g. behind a reverse proxy, where every peer is loopback) only the token counts
    const token = 'kiosk-token-0123456789';
    expect(stopAllowed(token, token, '192.0.2.7')).toBe(true);
    expect(stopAllowed(token, undefined, '127.0.0.1')).toBe(false);
    expect(stopAllowed(token, 'kiosk-token-0123456788', '127.0.0.1')).toBe(false);
    expect(stopAllowed(null, undefined, '127.0.0.1')).toBe(true);
    expect(stopAllowed(null, token, '192.0.2.7')).toBe(false);
  });

  it('refuses oversized requests before reading them', async () => {
    const base = await serve(section({ rateLimitPerMinute: 100 }));
    const long = await fetch(`${base}/walkup/withdraw/callback?k1=00&pr=${'q'.repeat(WALKUP_MAX_URL_CHARS)}`);
    expect(long.status).toBe(414);
    expect(await long.json()).toMatchObject({ status: 'ERROR', name: 'RequestTooLarge' });
    const body = await fetch(`${base}/walkup/stop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sessionId: 'x'.repeat(4000) }),
    });
    expect(body.status).toBe(409);
    expect(await body.json()).toMatchObject({ status: 'ERROR', name: 'NotCharging' });
  });

  it('accepts the current, previous and next TOTP; refuses stale, foreign and missing codes', async () => {
    const base = await serve(section({ rateLimitPerMinute: 100 }));
    for (const c of [code(nowCounter), code(nowCounter - 1), code(nowCounter + 1)]) {
      const r = (await (await fetch(`${base}/walkup/lnurlp?totp=${c}`)).json()) as Record<string, unknown>;
      expect(r).toMatchObject({ tag: 'payRequest', minSendable: 10_000_000, maxSendable: 200_000_000 });
      expect(r.callback).toBe(`http://127.0.0.1:1/walkup/lnurlp/callback?totp=${c}`);
    }
    const stale = await (await fetch(`${base}/walkup/lnurlp?totp=${code(nowCounter - 2)}`)).json();
    expect(stale).toMatchObject({ status: 'ERROR' });
    expect((stale as { reason: string }).reason).toMatch(/TotpStale/);
    const foreign = await (
      await fetch(`${base}/walkup/lnurlp?totp=${code(nowCounter, 'other-charger-secret-00000')}`)
    ).json();
    expect((foreign as { reason: string }).reason).toMatch(/TotpUnknown/);
    expect(await (await fetch(`${base}/walkup/lnurlp`)).json()).toMatchObject({ status: 'ERROR' });
    // the callback checks the code again (a stale one never reaches the node)
    const cb = await (
      await fetch(`${base}/walkup/lnurlp/callback?totp=${code(nowCounter - 3)}&amount=20000000`)
    ).json();
    expect((cb as { reason: string }).reason).toMatch(/TotpStale/);
  });

  it('refuses amounts outside the deposit range, in msat', async () => {
    const base = await serve(section({ rateLimitPerMinute: 100 }));
    for (const amount of ['9999999', '200000001', '20000', 'abc', '-5', '1e9']) {
      const r = await (
        await fetch(`${base}/walkup/lnurlp/callback?totp=${code(nowCounter)}&amount=${amount}`)
      ).json();
      expect(r).toMatchObject({ status: 'ERROR', name: 'DepositOutOfRange' });
    }
  });

  it('refuses with the arbiter’s word when the connector is busy, faulted or inoperative', async () => {
    const arbiter = new ConnectorArbiter();
    const base = await serve(section({ rateLimitPerMinute: 100 }), arbiter);
    const tryPay = async () =>
      (await (
        await fetch(`${base}/walkup/lnurlp/callback?totp=${code(nowCounter)}&amount=20000000`)
      ).json()) as { name: string };
    arbiter.claim('cable', 'car-1');
    expect((await tryPay()).name).toBe('CONNECTOR_BUSY');
    expect(await (await fetch(`${base}/walkup/lnurlp?totp=${code(nowCounter)}`)).json()).toMatchObject({
      name: 'CONNECTOR_BUSY',
    });
    const status = (await (await fetch(`${base}/walkup/api/status`)).json()) as {
      qr: unknown;
      available: boolean;
    };
    expect(status).toMatchObject({ qr: null, available: false }); // no QR while the connector is in use
    arbiter.release('car-1');
    arbiter.fault('stuck relay', NOW_MS);
    expect((await tryPay()).name).toBe('CONNECTOR_FAULTED');
    arbiter.clearFault();
    arbiter.setAvailability(false, 'maintenance');
    expect((await tryPay()).name).toBe('CONNECTOR_INOPERATIVE');
    expect(arbiter.current().kind).toBe('inoperative'); // a refused request claims nothing
  });

  it('refuses a withdraw with an unknown secret, pays nothing', async () => {
    const base = await serve(section({ rateLimitPerMinute: 100 }));
    const k1 = 'ab'.repeat(32);
    expect(await (await fetch(`${base}/walkup/withdraw?k1=${k1}`)).json()).toMatchObject({
      status: 'ERROR',
      name: 'RefundSecretWrong',
    });
    expect(await (await fetch(`${base}/walkup/withdraw/callback?k1=${k1}&pr=lnbcrt1`)).json()).toMatchObject({
      status: 'ERROR',
      name: 'RefundSecretWrong',
    });
  });
});

describe('walkup: config section', () => {
  const read = (over: Record<string, unknown>) => () => section(over);
  it('needs https (http only with allowHttp), a secret of 16+ characters and a margin above holdexpirydelta', () => {
    expect(read({ allowHttp: false })).toThrow(ConfigInvalid);
    expect(read({ publicBaseUrl: 'https://charger.example.com/pay' })).toThrow(/without a path/);
    expect(read({ totpSecret: 'short' })).toThrow(/totpSecret/);
    expect(read({ marginBlocks: 12 })).toThrow(/marginBlocks/);
    expect(read({ cltvDeltaBlocks: 18, marginBlocks: 18 })).toThrow(/cltvDeltaBlocks/);
    expect(read({ minDepositMsat: 50_000_000, maxDepositMsat: 40_000_000 })).toThrow(/maxDepositMsat/);
    const ok = section({ publicBaseUrl: 'https://charger.example.com/', allowHttp: false });
    expect(ok.publicBaseUrl).toBe('https://charger.example.com');
    expect(ok.minDepositMsat).toBe(10_000_000n);
  });
});
