/**
 * `npm run demo -- --walkup [--json] [--energy-wh 60] [--deposit-sat 50000] [--keep-network]`: a walk-up session
 * on the three-node regtest network (phone → router → wall; issue 12). The wall daemon runs with `walkup:` on and
 * no vehicle module; the phone lnd is the driver's wallet: it follows the LNURL-pay link of the charger's QR,
 * pays the deposit hold invoice, the simulated car charges until `--energy-wh`, is unplugged, and the phone pays
 * the final invoice for the metered energy; the deposit is cancelled.
 *
 * `--json`: the last line of stdout is one JSON object `{energyWh, depositMsat, paidMsat, refundMsat,
 * phoneSpentMsat, routingFeesMsat, stopReason, receiptValid}` (amounts as decimal strings). Exit code 0 only when
 * the phone paid exactly the delivered energy (energyWh × price) plus routing fees and the receipt's signature is
 * the wall node's.
 *
 * The rig and wallet helpers here are shared with the walk-up end-to-end tests (test/e2e/walkup-*).
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  authenticatedLndGrpc,
  getChannelBalance,
  getWalletInfo,
  payViaPaymentRequest,
  verifyMessage,
  type AuthenticatedLnd,
} from 'lightning';
import {
  decodeLnurl,
  parsePayCallbackResponse,
  parsePayRequest,
  payCallbackUrl,
  type SuccessAction,
} from '../../payments/lnurl.js';
import { closeLnd, down, up, type NodeConnection } from '../regtest/network.js';
import { ChargeRig, freePort } from './rig.js';

/** The TOTP secret of the demo/test wall (a foreign charger has another). */
export const WALL_TOTP_SECRET = 'walkup-e2e-secret-0123456789';
/** Price of the walk-up demo and tests, msat per Wh (1 sat/Wh: figures are easy to read). */
export const PRICE_MSAT_PER_WH = 1000n;

/**
 * A wall daemon with walk-up on and no vehicle module: simulated charger and meter, IP link, real time, the
 * status server on a fixed loopback port (the QR's base URL).
 * @param connectionFile regtest connection file
 * @param walkup overrides of the `walkup:` section
 * @param dir working directory (configs, database, logs)
 * @param wall more sections of the wall's configuration (e.g. `ocpp`)
 * @returns the rig (daemon not started) and the base URL of the wall's pay endpoints
 */
export async function walkupRig(
  connectionFile: string,
  walkup: Record<string, unknown> = {},
  dir: string = mkdtempSync(join(tmpdir(), 'e2e-walkup-')),
  wall: Record<string, unknown> = {},
): Promise<{ rig: ChargeRig; baseUrl: string }> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const rig = await ChargeRig.create({
    dir,
    connectionFile,
    link: 'ip',
    speed: 1,
    wall: {
      ...wall,
      status: { listen: '127.0.0.1', port },
      walkup: walkupSection(baseUrl, walkup),
    },
  });
  return { rig, baseUrl };
}

/**
 * The `walkup:` section of the demo/test wall (shared with the site tests, whose wall runs through
 * scripts/bench/site/rig.ts): price `PRICE_MSAT_PER_WH`, TOTP secret `WALL_TOTP_SECRET`, plain http on loopback.
 * @param baseUrl what the QR carries (the wall's status server, http://127.0.0.1:<port>)
 * @param overrides keys replaced or added
 */
export function walkupSection(
  baseUrl: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
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
    ...overrides,
  };
}

/** An ln-service handle on a regtest node (the phone as a wallet). */
export function lndFor(node: NodeConnection): AuthenticatedLnd {
  return authenticatedLndGrpc({ socket: node.socket, cert: node.cert, macaroon: node.macaroon }).lnd;
}

/** The phone's spendable channel balance, msat. */
export async function channelMsat(lnd: AuthenticatedLnd): Promise<bigint> {
  const b = await getChannelBalance({ lnd });
  return BigInt(b.channel_balance_mtokens ?? String(b.channel_balance * 1000));
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
 * The wall's walk-up status JSON.
 * @param baseUrl the wall's status server
 * @param prefix the connector's walk-up prefix (`/connectors/<id>/walkup` for a site's other connectors)
 */
export async function walkupStatus(baseUrl: string, prefix = '/walkup'): Promise<WalkupStatusJson> {
  return (await (await fetch(`${baseUrl}${prefix}/api/status`)).json()) as WalkupStatusJson;
}

/** Subset of `/walkup/api/status` the tests read (amounts are decimal strings). */
export interface WalkupStatusJson {
  available: boolean;
  connector: string;
  qr: { content: string; totp: string; lnurl: string } | null;
  /** a walk-up the CSMS started (OCPP remote start) that waits for its deposit */
  remoteStart?: { sessionId: string; remoteStartId: number; expiresAtMs: number } | null;
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
    receiptSigned: boolean;
  } | null;
}

/** The demo's JSON line. */
export interface WalkupDemoResult {
  energyWh: number;
  depositMsat: string;
  paidMsat: string;
  refundMsat: string;
  phoneSpentMsat: string;
  routingFeesMsat: string;
  stopReason: string | null;
  receiptValid: boolean;
}

/**
 * Runs the walk-up demo.
 * @param argv command-line arguments after `npm run demo --`
 * @returns exit code: 0 when the phone paid exactly energy × price + routing fees and the receipt is valid
 */
export async function walkupDemo(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      walkup: { type: 'boolean', default: true },
      json: { type: 'boolean', default: false },
      'energy-wh': { type: 'string', default: '60' },
      'deposit-sat': { type: 'string', default: '50000' },
      'keep-network': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const json = values.json;
  const say = (line: string): void => void process.stderr.write(`demo: ${line}\n`);
  const show = (line: string): void => void (json ? say(line) : process.stdout.write(`${line}\n`));
  const targetWh = Number(values['energy-wh']);
  const depositMsat = BigInt(Math.round(Number(values['deposit-sat']))) * 1000n;
  if (!(targetWh > 0) || depositMsat < 20_000_000n || depositMsat > 200_000_000n) {
    say('--energy-wh must be positive and --deposit-sat within 20000..200000');
    return 2;
  }
  if (BigInt(Math.ceil(targetWh)) * PRICE_MSAT_PER_WH >= depositMsat) {
    say('--energy-wh must cost less than the deposit');
    return 2;
  }
  const net = await up({ walkup: true, log: (l) => say(`regtest: ${l}`) });
  say(
    `regtest network ${net.alreadyUp ? 'already up' : 'started'} in ${(net.elapsedMs / 1000).toFixed(1)} s`,
  );
  const { phone: phoneNode, wall: wallNode } = net.connection.nodes;
  if (!phoneNode) throw new Error('regtest: no phone node');
  const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
  const dir = join(root, '.demo', `walkup-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  const { rig, baseUrl } = await walkupRig(net.connectionPath, {}, dir);
  const phone = lndFor(phoneNode);
  const wall = lndFor(wallNode);
  let code = 1;
  try {
    await rig.wall.start();
    show(`charger page (what the kiosk shows): ${baseUrl}/walkup`);
    const qr = (await walkupStatus(baseUrl)).qr;
    if (!qr) throw new Error('the charger offers no QR code');
    show(`QR: ${qr.content}`);
    rig.world.plug();
    const before = await channelMsat(phone);
    const offer = await requestDeposit(qr.content, depositMsat);
    show(`deposit hold invoice for ${depositMsat / 1000n} sat; the phone pays it (held, not settled)`);
    const deposit = phonePays(phone, offer.bolt11);
    await rig.until(
      'charging',
      async () => (await walkupStatus(baseUrl)).session?.phase === 'charging',
      90_000,
    );
    let lastPrint = 0;
    await rig.until(
      `${targetWh} Wh delivered`,
      async () => {
        const s = (await walkupStatus(baseUrl)).session!;
        if (Date.now() - lastPrint > 3000) {
          lastPrint = Date.now();
          show(`  charging: ${s.deliveredWh} Wh`);
        }
        return s.deliveredWh >= targetWh;
      },
      Math.max(60_000, (targetWh / 11_000) * 3_600_000 * 3),
    );
    rig.world.unplug();
    show('unplugged: the wall meters the session and shows the final invoice');
    await rig.until(
      'final invoice',
      async () => (await walkupStatus(baseUrl)).session?.finalBolt11 != null,
      60_000,
    );
    const finalBolt11 = (await walkupStatus(baseUrl)).session!.finalBolt11!;
    const final = await phonePays(phone, finalBolt11).result;
    if (!final.ok) throw new Error(`final payment failed: ${final.error}`);
    const dep = await deposit.result;
    await rig.until(
      'receipt',
      async () => (await walkupStatus(baseUrl)).session?.receiptSigned === true,
      60_000,
    );
    const s = (await walkupStatus(baseUrl)).session!;
    const receipt = (await (await fetch(`${baseUrl}/walkup/receipt?session=${s.sessionId}`)).json()) as {
      text: string;
      signature: string | null;
      receipt: { settledMsat: string; costMsat: string; refundPaidMsat: string; energyWh: number };
    };
    const wallKey = (await getWalletInfo({ lnd: wall })).public_key;
    const signer =
      receipt.signature === null
        ? null
        : (await verifyMessage({ lnd: phone, message: receipt.text, signature: receipt.signature }))
            .signed_by;
    const spent = before - (await channelMsat(phone));
    const result: WalkupDemoResult = {
      energyWh: s.deliveredWh,
      depositMsat: depositMsat.toString(),
      paidMsat: receipt.receipt.settledMsat,
      refundMsat: receipt.receipt.refundPaidMsat,
      phoneSpentMsat: spent.toString(),
      routingFeesMsat: final.feeMsat.toString(),
      stopReason: s.stopReason,
      receiptValid: signer === wallKey && receipt.receipt.energyWh === s.deliveredWh,
    };
    const exact = spent === BigInt(s.deliveredWh) * PRICE_MSAT_PER_WH + final.feeMsat;
    code = exact && result.receiptValid && !dep.ok && s.endReason === 'FINAL_PAID' ? 0 : 1;
    show(
      `done: ${s.deliveredWh} Wh, paid ${Number(BigInt(result.paidMsat)) / 1000} sat + ${final.feeMsat} msat routing fees; deposit ${dep.ok ? 'SETTLED' : 'cancelled'}; receipt ${result.receiptValid ? 'valid' : 'INVALID'}; ${code === 0 ? 'the phone paid exactly energy + fees' : 'FAILED'}`,
    );
    if (json) process.stdout.write(JSON.stringify(result) + '\n');
  } catch (err) {
    say(`failed: ${(err as Error).message}`);
    code = 1;
  } finally {
    await rig.stop();
    closeLnd(phone);
    closeLnd(wall);
    if (!net.alreadyUp && !values['keep-network']) await down({ log: (l) => say(`regtest: ${l}`) });
  }
  return code;
}
