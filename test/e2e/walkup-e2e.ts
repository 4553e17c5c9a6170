/**
 * Shared pieces of the walk-up end-to-end tests: a wall daemon (real child process through the CLI, simulated
 * charger and meter, no vehicle module) with `walkup:` enabled on the real regtest network; the phone lnd as
 * the driver's wallet (LNURL-pay, LUD-10 decrypt, LUD-03 withdraw over plain HTTP to the wall); the QR decoded
 * from a headless-Chromium screenshot with an independent decoder (Debian zbar-tools `zbarimg`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  authenticatedLndGrpc,
  createInvoice,
  getChannelBalance,
  getChannels,
  payViaPaymentRequest,
  type AuthenticatedLnd,
} from 'lightning';
import type { BrowserContext } from 'playwright-core';
import { ChargeRig, freePort } from '../../scripts/demo/rig.js';
import type { NodeConnection } from '../../scripts/regtest/network.js';
import {
  decodeLnurl,
  decryptAesSuccessAction,
  parsePayCallbackResponse,
  parsePayRequest,
  parseStatusOk,
  parseWithdrawRequest,
  payCallbackUrl,
  withdrawCallbackUrl,
  type SuccessAction,
} from '../../payments/lnurl.js';

/** The TOTP secret of the wall under test (a foreign charger has another). */
export const WALL_TOTP_SECRET = 'walkup-e2e-secret-0123456789';
/** Price of the walk-up tests, msat per Wh (1 sat/Wh: figures are easy to read). */
export const PRICE_MSAT_PER_WH = 1000n;

/** Where zbarimg lives (Debian zbar-tools). */
export const ZBARIMG = '/usr/bin/zbarimg';

/** A wall daemon with walk-up on (no vehicle module). */
export async function walkupRig(
  connectionFile: string,
  walkup: Record<string, unknown> = {},
): Promise<{ rig: ChargeRig; baseUrl: string }> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const rig = await ChargeRig.create({
    dir: mkdtempSync(join(tmpdir(), 'e2e-walkup-')),
    connectionFile,
    link: 'ip',
    speed: 1,
    wall: {
      status: { listen: '127.0.0.1', port },
      walkup: {
        enabled: true,
        priceMsatPerWh: Number(PRICE_MSAT_PER_WH),
        minDepositMsat: 20_000_000,
        maxDepositMsat: 200_000_000,
        publicBaseUrl: baseUrl,
        allowHttp: true,
        totpSecret: WALL_TOTP_SECRET,
        validityTimeSec: 30,
        quoteTimeoutMs: 60_000,
        finalInvoiceTimeoutMs: 60_000,
        finalMeterTimeoutMs: 3000,
        blockIntervalMs: 60_000,
        marginBlocks: 18,
        rateLimitPerMinute: 600,
        ...walkup,
      },
    },
  });
  return { rig, baseUrl };
}

/** An ln-service handle on a regtest node (the phone as a wallet). */
export function lndFor(node: NodeConnection): AuthenticatedLnd {
  return authenticatedLndGrpc({ socket: node.socket, cert: node.cert, macaroon: node.macaroon }).lnd;
}

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

/** The phone's spendable channel balance, msat. */
export async function channelMsat(lnd: AuthenticatedLnd): Promise<bigint> {
  const b = await getChannelBalance({ lnd });
  return BigInt(b.channel_balance_mtokens ?? String(b.channel_balance * 1000));
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
    await page.setViewportSize({ width: 720, height: 1280 });
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

/** What the wallet got from the LNURL-pay flow. */
export interface DepositOffer {
  bolt11: string;
  successAction: SuccessAction | null;
  descriptionHashHex: string;
  callbackUrl: string;
}

/**
 * The wallet's side of LUD-06: follow the LNURL, check the amount range, ask the callback for an invoice.
 * @param lnurlText the QR content (`LIGHTNING:LNURL1…` or bare)
 * @param amountMsat deposit to send
 * @returns the invoice and success action, or the service's LNURL error text as a thrown Error
 */
export async function requestDeposit(lnurlText: string, amountMsat: bigint): Promise<DepositOffer> {
  const bare = lnurlText.replace(/^lightning:/i, '');
  const decoded = decodeLnurl(bare, { allowHttp: true });
  if (!decoded.ok) throw new Error(`LNURL: ${decoded.error.message}`);
  const first = await (await fetch(decoded.value.url)).text();
  const req = parsePayRequest(first, { allowHttp: true });
  if (!req.ok) throw new Error(`payRequest: ${req.error.message} (${first})`);
  const cb = payCallbackUrl(req.value, amountMsat);
  if (!cb.ok) throw new Error(cb.error.message);
  const answer = await (await fetch(cb.value)).text();
  const parsed = parsePayCallbackResponse(answer, { allowHttp: true });
  if (!parsed.ok) throw new Error(`callback: ${parsed.error.message} (${answer})`);
  return {
    bolt11: parsed.value.pr,
    successAction: parsed.value.successAction,
    descriptionHashHex: req.value.descriptionHashHex,
    callbackUrl: cb.value,
  };
}

/** A payment the phone started (a hold invoice's payment resolves only when the wall settles or cancels). */
export interface PhonePayment {
  result: Promise<{ ok: true; feeMsat: bigint; preimage: string } | { ok: false; error: string }>;
}

/** Starts paying `bolt11` from the phone (no overall timeout: a held HTLC may wait long). */
export function phonePays(lnd: AuthenticatedLnd, bolt11: string, maxFeeMsat = 100_000n): PhonePayment {
  return {
    result: payViaPaymentRequest({ lnd, request: bolt11, max_fee_mtokens: maxFeeMsat.toString() }).then(
      (p) => ({ ok: true as const, feeMsat: BigInt(p.fee_mtokens), preimage: p.secret }),
      (err: unknown) => ({ ok: false as const, error: JSON.stringify(err) }),
    ),
  };
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

/** The wall's walk-up status JSON. */
export async function walkupStatus(baseUrl: string): Promise<WalkupStatusJson> {
  return (await (await fetch(`${baseUrl}/walkup/api/status`)).json()) as WalkupStatusJson;
}

/** Subset of `/walkup/api/status` the tests read (amounts are decimal strings). */
export interface WalkupStatusJson {
  available: boolean;
  connector: string;
  qr: { content: string; totp: string; lnurl: string } | null;
  session: {
    sessionId: string;
    phase: string;
    deliveredWh: number;
    heldMsat: string | null;
    costMsat: string | null;
    finalBolt11: string | null;
    endReason: string | null;
    stopReason: string | null;
    refundMsat: string | null;
    receiptUrl: string | null;
  } | null;
}
