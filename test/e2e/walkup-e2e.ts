/**
 * Shared pieces of the walk-up end-to-end tests (the rig and the wallet's LNURL-pay side come from
 * scripts/demo/walkup.ts): a wall daemon (real child process through the CLI, simulated
 * charger and meter, no vehicle module) with `walkup:` enabled on the real regtest network; the phone lnd as
 * the driver's wallet (LNURL-pay, LUD-10 decrypt, LUD-03 withdraw over plain HTTP to the wall); the QR decoded
 * from a headless-Chromium screenshot with an independent decoder (Debian zbar-tools `zbarimg`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInvoice, getChannels, payViaPaymentRequest, type AuthenticatedLnd } from 'lightning';
import type { BrowserContext } from 'playwright-core';
import { closeLnd, type NodeConnection } from '../../scripts/regtest/network.js';
import type { ChargeRig } from '../../scripts/demo/rig.js';
import {
  channelMsat,
  lndFor,
  phonePays,
  requestDeposit,
  walkupRig,
  walkupStatus,
  type DepositOffer,
  type PhonePayment,
} from '../../scripts/demo/walkup.js';
import { walkupNetwork, type WalkupNetwork } from '../support/walkup-network.js';
import { ZBARIMG } from '../support/qr-on-screen.js';
import {
  decryptAesSuccessAction,
  parseStatusOk,
  parseWithdrawRequest,
  withdrawCallbackUrl,
  type SuccessAction,
} from '../../payments/lnurl.js';

export {
  channelMsat,
  lndFor,
  phonePays,
  requestDeposit,
  walkupRig,
  walkupStatus,
  PRICE_MSAT_PER_WH,
  WALL_TOTP_SECRET,
  type WalkupStatusJson,
} from '../../scripts/demo/walkup.js';

/** A walk-up test's world: the three-node network, the phone and wall as ln-service handles, the wall rig. */
export interface WalkupFixture {
  net: WalkupNetwork;
  phone: AuthenticatedLnd;
  wall: AuthenticatedLnd;
  /** the wall daemon rig (not started: a test may set its entry first) */
  rig: ChargeRig;
  baseUrl: string;
  /** stops the rig and closes the node handles */
  close(): Promise<void>;
}

/**
 * Brings up (or confirms) the walk-up nodes and builds a walk-up wall rig.
 * @param connectionFile regtest connection file
 * @param walkup overrides of the `walkup:` section
 * @param opts `refunds`: make sure the wall can pay refunds (outbound liquidity toward the router); `wall`: more
 *   sections of the wall's configuration (e.g. `ocpp`)
 */
export async function walkupFixture(
  connectionFile: string,
  walkup: Record<string, unknown> = {},
  opts: { refunds?: boolean; wall?: Record<string, unknown> } = {},
): Promise<WalkupFixture> {
  const net = await walkupNetwork();
  const phone = lndFor(net.phone);
  const wall = lndFor(net.wall);
  if (opts.refunds) await ensureWallOutbound(net, wall, phone);
  const { rig, baseUrl } = await walkupRig(connectionFile, walkup, undefined, opts.wall);
  return {
    net,
    phone,
    wall,
    rig,
    baseUrl,
    async close() {
      await rig.stop();
      closeLnd(phone);
      closeLnd(wall);
    },
  };
}

/**
 * The driver scans the QR (from the status JSON), plugs in and the phone pays a deposit; waits until the charger
 * energised.
 * @returns the phone's channel balance before paying, the offer (invoice, success action) and the payment
 */
export async function startCharging(
  f: WalkupFixture,
  depositMsat: bigint,
): Promise<{ before: bigint; offer: DepositOffer; deposit: PhonePayment }> {
  const qr = (await walkupStatus(f.baseUrl)).qr;
  if (!qr) throw new Error('the charger offers no QR code');
  f.rig.world.plug();
  const before = await channelMsat(f.phone);
  const offer = await requestDeposit(qr.content, depositMsat);
  const deposit = phonePays(f.phone, offer.bolt11);
  await f.rig.until(
    'charging',
    async () => (await walkupStatus(f.baseUrl)).session?.phase === 'charging',
    60_000,
  );
  return { before, offer, deposit };
}

export { ZBARIMG } from '../support/qr-on-screen.js';

/**
 * The host needs outbound liquidity toward the router (above its channel reserve) to pay refunds: the phone
 * buys the wall some first when it has less than 200 000 sat there, as earlier drivers would have.
 */
export async function ensureWallOutbound(
  net: { router: NodeConnection },
  wall: AuthenticatedLnd,
  phone: AuthenticatedLnd,
): Promise<void> {
  const { channels } = await getChannels({ lnd: wall, partner_public_key: net.router.pubkey });
  const local = Math.max(0, ...channels.map((c) => c.local_balance));
  if (local >= 200_000) return;
  const topUp = await createInvoice({ lnd: wall, tokens: 200_000 - local + 10_000 });
  await payViaPaymentRequest({ lnd: phone, request: topUp.request, max_fee: 1000 });
}

/**
 * Decodes the QR code on the walk-up page from a screenshot, with zbarimg.
 * @returns the QR's content and the screenshot's path
 * @throws when zbarimg is missing (names the package) or finds no code
 */
export async function qrFromPage(
  ctx: BrowserContext,
  pageUrl: string,
): Promise<{ content: string; png: string }> {
  if (!existsSync(ZBARIMG))
    throw new Error(`${ZBARIMG} not found: run "node scripts/setup.mjs --for test" (apt zbar-tools)`);
  const page = await ctx.newPage();
  try {
    await page.setViewportSize({ width: 720, height: 720 });
    await page.goto(pageUrl);
    const img = page.locator('#wu-qr');
    await page.waitForFunction(() => {
      const el = (
        globalThis as unknown as {
          document: { getElementById(id: string): { src?: string; complete?: boolean } | null };
        }
      ).document.getElementById('wu-qr');
      return el !== null && typeof el.src === 'string' && el.src.startsWith('data:') && el.complete === true;
    });
    const png = join(mkdtempSync(join(tmpdir(), 'walkup-qr-')), 'page.png');
    await page.screenshot({ path: png, fullPage: true });
    writeFileSync(`${png}.qr.png`, await img.screenshot());
    const out = execFileSync(ZBARIMG, ['--raw', '-q', '-Sdisable', '-Sqrcode.enable', png], {
      encoding: 'utf8',
    }).trim();
    return { content: out, png };
  } finally {
    await page.close();
  }
}

/**
 * The wallet's side of the refund: decrypt the LUD-10 action with the deposit preimage, open the LUD-03 link.
 * @returns the withdraw link's URL and the parsed withdrawRequest
 */
export async function openRefund(
  action: SuccessAction | null,
  depositPreimageHex: string,
): Promise<{ url: string; request: ReturnType<typeof parseWithdrawRequest> }> {
  if (action === null || action.tag !== 'aes') throw new Error('no aes success action');
  const plain = decryptAesSuccessAction(action, Buffer.from(depositPreimageHex, 'hex'));
  if (!plain.ok) throw new Error(plain.error.message);
  const text = await (await fetch(plain.value)).text();
  return { url: plain.value, request: parseWithdrawRequest(text, { allowHttp: true }) };
}

/** Calls a LUD-03 callback with an invoice. @returns 'OK' or the LNURL error reason */
export async function claimWithdraw(
  request: Parameters<typeof withdrawCallbackUrl>[0],
  bolt11: string,
): Promise<string> {
  const text = await (await fetch(withdrawCallbackUrl(request, bolt11))).text();
  const r = parseStatusOk(text);
  return r.ok ? 'OK' : ((JSON.parse(text) as { reason?: string }).reason ?? r.error.message);
}
