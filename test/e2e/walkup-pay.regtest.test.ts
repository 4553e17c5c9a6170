/**
 * Walk-up payment end to end on real peers (issue 12): the wall daemon (child process, simulated charger and
 * meter, no vehicle module) shows its walk-up page in headless Chromium; the QR is decoded from a screenshot by
 * zbarimg; the phone lnd (whose only channel is to the router) follows the LNURL-pay link, pays the deposit hold
 * invoice, the charger energises, the car is unplugged, the phone pays the final invoice. Asserted from both
 * nodes: the phone lost exactly the metered cost + routing fees, the deposit HTLC was cancelled, the wall's
 * books equal its node, the receipt is signed by the wall's node key. Also: a stale TOTP (previous-but-one
 * interval) and a foreign charger's code are refused by the pay endpoint.
 */
import { getInvoice, getWalletInfo, verifyMessage } from 'lightning';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  buildMetadata,
  decodeLnurl,
  encodeLnurl,
  metadataHashHex,
  parseLnurlJson,
} from '../../payments/lnurl.js';
import { totpForCounter, totpCounter } from '../../payments/totp.js';
import { launchHeadlessChromium, type HeadlessBrowser } from '../support/qr-on-screen.js';
import {
  channelMsat,
  phonePays,
  qrFromPage,
  requestDeposit,
  walkupStatus,
  PRICE_MSAT_PER_WH,
  WALL_TOTP_SECRET,
  walkupFixture,
  type WalkupFixture,
} from './walkup-e2e.js';

describe('walk-up payment with a phone wallet (three real lnd nodes, headless Chromium)', () => {
  const connectionFile = inject('regtestConnectionPath');
  let f: WalkupFixture;
  let browser: HeadlessBrowser;

  beforeAll(async () => {
    f = await walkupFixture(connectionFile);
    browser = await launchHeadlessChromium();
    await f.rig.wall.start();
  });
  afterAll(async () => {
    await f?.close();
    await browser?.close();
  });

  it('refuses a stale TOTP and a foreign charger’s code; accepts the current one', async () => {
    const nowSec = Date.now() / 1000;
    const counter = totpCounter(nowSec, 30);
    const stale = totpForCounter(WALL_TOTP_SECRET, counter - 2, 12);
    const foreign = totpForCounter('another-charger-secret-000000', counter, 12);
    for (const [code, name] of [
      [stale, 'TotpStale'],
      [foreign, 'TotpUnknown'],
    ] as const) {
      const text = await (await fetch(`${f.baseUrl}/walkup/lnurlp?totp=${code}`)).text();
      const parsed = parseLnurlJson(text);
      expect(parsed.ok).toBe(false);
      expect(text).toContain(name);
      // the callback refuses it too: no invoice is ever created for it
      const cb = await (
        await fetch(`${f.baseUrl}/walkup/lnurlp/callback?totp=${code}&amount=20000000`)
      ).json();
      expect(cb).toMatchObject({ status: 'ERROR' });
    }
    const current = totpForCounter(WALL_TOTP_SECRET, counter, 12);
    const ok = parseLnurlJson(await (await fetch(`${f.baseUrl}/walkup/lnurlp?totp=${current}`)).text());
    expect(ok.ok).toBe(true);
  });

  it('scan, pay the deposit, charge, unplug, pay the final invoice: the phone pays exactly energy + fees', async () => {
    const walletInfo = await getWalletInfo({ lnd: f.wall });
    // 1. the driver scans the code on the charger's page
    const { content, png } = await qrFromPage(browser.context, `${f.baseUrl}/walkup`);
    process.stderr.write(`walk-up page screenshot: ${png}\n`);
    expect(content).toMatch(/^LIGHTNING:LNURL1[0-9A-Z]+$/);
    // the code in the picture is this charger's code of now (or of the interval just before: it may have
    // rotated between the screenshot and this line)
    const scanned = decodeLnurl(content, { allowHttp: true });
    if (!scanned.ok) throw new Error(scanned.error.message);
    const url = new URL(scanned.value.url);
    expect(`${url.origin}${url.pathname}`).toBe(`${f.baseUrl}/walkup/lnurlp`);
    const counter = totpCounter(Date.now() / 1000, 30);
    expect([counter, counter - 1].map((c) => totpForCounter(WALL_TOTP_SECRET, c, 12))).toContain(
      url.searchParams.get('totp'),
    );
    const again = encodeLnurl(scanned.value.url, { allowHttp: true });
    expect(again.ok && content === `LIGHTNING:${again.value}`).toBe(true);

    // 2. the car is plugged in; the wallet follows the LNURL and pays a deposit
    f.rig.world.plug();
    const before = await channelMsat(f.phone);
    const depositMsat = 50_000_000n; // 50 000 sat = 50 kWh of credit
    const offer = await requestDeposit(content, depositMsat);
    expect(offer.descriptionHashHex).toBe(
      metadataHashHex(buildMetadata('EV charging (walk-up deposit; you pay only the energy delivered)')),
    );
    expect(offer.successAction?.tag).toBe('aes');
    const deposit = phonePays(f.phone, offer.bolt11);
    await f.rig.until(
      'charging',
      async () => (await walkupStatus(f.baseUrl)).session?.phase === 'charging',
      60_000,
    );
    const sessionId = (await walkupStatus(f.baseUrl)).session!.sessionId;
    expect((await walkupStatus(f.baseUrl)).available).toBe(false); // the QR is gone while the charger is in use

    // 3. energy flows; the driver unplugs after about 40 Wh
    await f.rig.until(
      '40 Wh delivered',
      async () => (await walkupStatus(f.baseUrl)).session!.deliveredWh >= 40,
      60_000,
    );
    f.rig.world.unplug();
    await f.rig.until(
      'the final invoice on the page',
      async () => (await walkupStatus(f.baseUrl)).session?.finalBolt11 !== null,
      60_000,
    );

    // 4. the driver pays the final invoice shown on the page (read from the page itself)
    const page = await browser.context.newPage();
    await page.goto(`${f.baseUrl}/walkup`);
    await page.waitForSelector('#wu-final:not(.hidden)');
    const href = await page.locator('#wu-final-link').getAttribute('href');
    await page.screenshot({ path: `${png}.final.png`, fullPage: true });
    await page.close();
    expect(href).toMatch(/^lightning:lnbcrt/);
    const final = phonePays(f.phone, href!.slice('lightning:'.length));
    const finalResult = await final.result;
    expect(finalResult.ok).toBe(true);
    const depositResult = await deposit.result;
    expect(depositResult.ok).toBe(false); // the deposit HTLC was cancelled back to the phone

    await f.rig.until(
      'session ended',
      async () => (await walkupStatus(f.baseUrl)).session?.phase === 'ended',
      60_000,
    );
    await f.rig.until(
      'receipt stored',
      async () => (await walkupStatus(f.baseUrl)).session?.receiptSigned === true,
      30_000,
    );
    const s = (await walkupStatus(f.baseUrl)).session!;
    expect(s.endReason).toBe('FINAL_PAID');
    expect(s.stopReason).toBe('UNPLUGGED');
    const energyWh = BigInt(s.deliveredWh);
    const costMsat = BigInt(s.costMsat!);
    expect(costMsat).toBe(energyWh * PRICE_MSAT_PER_WH);
    expect(energyWh).toBeGreaterThanOrEqual(40n);

    // 5. figures from both nodes
    if (!finalResult.ok) throw new Error('unreachable');
    const after = await channelMsat(f.phone);
    expect(before - after).toBe(costMsat + finalResult.feeMsat);
    const receipt = (await (await fetch(`${f.baseUrl}/walkup/receipt?session=${sessionId}`)).json()) as {
      text: string;
      signature: string;
      signerPubkey: string;
      receipt: Record<string, string | number | null>;
    };
    const depositHash = receipt.receipt.depositPaymentHash as string;
    const finalHash = receipt.receipt.finalPaymentHash as string;
    const depInv = await getInvoice({ lnd: f.wall, id: depositHash });
    expect(depInv.is_canceled).toBe(true);
    expect(depInv.is_confirmed).toBe(false);
    const finInv = await getInvoice({ lnd: f.wall, id: finalHash });
    expect(finInv.is_confirmed).toBe(true);
    expect(BigInt(finInv.received_mtokens)).toBe(costMsat);
    // the wall's books equal its node
    expect(BigInt(receipt.receipt.settledMsat as string)).toBe(BigInt(finInv.received_mtokens));
    expect(receipt.receipt.depositOutcome).toBe('cancelled');
    expect(receipt.receipt.finalPreimageHex).toBe(finInv.secret);
    // seller-signed: the phone's node recovers the wall's key from the signature
    const signer = await verifyMessage({ lnd: f.phone, message: receipt.text, signature: receipt.signature });
    expect(signer.signed_by).toBe(walletInfo.public_key);
    expect(receipt.signerPubkey).toBe(walletInfo.public_key);
    // the receipt page shows it
    const html = await (await fetch(`${f.baseUrl}/walkup/receipt.html?session=${sessionId}`)).text();
    expect(html).toContain(receipt.signature);
  });
});
