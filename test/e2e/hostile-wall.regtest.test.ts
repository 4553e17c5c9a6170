// A dishonest wall against the real vehicle daemon and real lnd: invoices sealed with the wall's leaked session
// keys and injected on the CAN bus, signed by the wall's own node key (lnd signrpc, key family 6 index 0).
// 1. An invoice with two `p` tags (lnd pays the first, the `bolt11` package read the last) is refused as
//    INVOICE_AMBIGUOUS and neither hash is paid, although lnd itself reads it as payable to hash A.
// 2. A payment the wall holds (hold invoice) past the vehicle's pay timeout stays in doubt — counted in the
//    daily budget, ledger row `sent`, node `in_flight` — and when the wall settles, ledger, budget and node agree.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import Database from 'better-sqlite3';
import {
  authenticatedLndGrpc,
  createHodlInvoice,
  decodePaymentRequest,
  settleHodlInvoice,
  signBytes,
  type AuthenticatedLnd,
} from 'lightning';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createCableLink } from '../../hardware/link/create-cable-link.js';
import type { CableLink } from '../../hardware/link/cable-link.js';
import { sealMessage, sellerChannel, type InvoiceMessage, type SellerState } from '../../protocol/index.js';
import { restoreSellerState } from '../../protocol/serialize.js';
import { regtestNodes } from '../../scripts/demo/books.js';
import { ChargeRig } from '../../scripts/demo/rig.js';
import { amountText, rawInvoice, recoveryFor, tag, type Signer } from '../protocol/bolt11-raw.js';

const BITRATE = 500_000;
const PAY_TIMEOUT_MS = 2000;

function wallLnd(connectionFile: string): { lnd: AuthenticatedLnd; pubkey: string } {
  const c = JSON.parse(readFileSync(connectionFile, 'utf8')) as {
    nodes: { wall: { socket: string; cert: string; macaroon: string; pubkey: string } };
  };
  const w = c.nodes.wall;
  return {
    lnd: authenticatedLndGrpc({ socket: w.socket, cert: w.cert, macaroon: w.macaroon }).lnd,
    pubkey: w.pubkey,
  };
}

/** Signs as the wall's node key through lnd's signer (sha256 of the preimage, 64-byte r‖s). */
function lndSigner(lnd: AuthenticatedLnd, pubkey: string): Signer {
  return async (digest, preimage) => {
    const { signature } = await signBytes({
      lnd,
      key_family: 6,
      key_index: 0,
      preimage: Buffer.from(preimage).toString('hex'),
    });
    // lnd's signer answers in DER; BOLT11 wants r‖s (low S) and the recovery id
    const sig = secp256k1.Signature.fromBytes(Buffer.from(signature, 'hex'), 'der');
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const low = sig.hasHighS() ? new secp256k1.Signature(sig.r, n - sig.s) : sig;
    const rs = low.toBytes('compact');
    return { rs, recovery: recoveryFor(rs, digest, pubkey) };
  };
}

async function startRig(connectionFile: string): Promise<ChargeRig> {
  const rig = await ChargeRig.create({
    dir: mkdtempSync(join(tmpdir(), 'e2e-hostile-')),
    connectionFile,
    link: 'can',
    bitrate: BITRATE,
    speed: 10,
    extraAdapters: ['attacker'],
    wall: { session: { heartbeatTimeoutMs: 100_000 } },
    vehicle: { session: { heartbeatTimeoutMs: 100_000 }, payment: { timeoutMs: PAY_TIMEOUT_MS } },
  });
  await rig.startDaemons();
  rig.world.plug();
  await rig.until('charging with invoices paid', async () => {
    const w = await rig.wall.status();
    return w.state === 'charging' && w.ledger.filter((l) => l.state === 'settled').length >= 2;
  });
  return rig;
}

/**
 * Freezes the wall, reads its session keys from its store, seals the invoice `build` makes as the wall and sends
 * it on the bus from the attacker's adapter, then lets the wall run on.
 */
async function injectInvoice(
  rig: ChargeRig,
  attacker: CableLink,
  build: (wall: SellerState) => Promise<InvoiceMessage>,
): Promise<InvoiceMessage> {
  const wallPid = rig.wall.pid!;
  process.kill(wallPid, 'SIGSTOP');
  try {
    await new Promise((r) => setTimeout(r, 300));
    const db = new Database(rig.files.wallDb, { readonly: true });
    const row = db.prepare("SELECT state_json FROM machine_state WHERE slot = 'main'").get() as {
      state_json: string;
    };
    db.close();
    const wall = restoreSellerState(row.state_json);
    if (!wall.ok) throw new Error(wall.error.message);
    const message = await build(wall.value);
    const channel = sellerChannel(wall.value);
    if (channel === null) throw new Error('the wall has no channel');
    const sealed = sealMessage({ ...channel, sendCounter: channel.sendCounter + 20 }, message);
    if (!sealed.ok) throw new Error(sealed.error.message);
    await attacker.send(sealed.value.frame);
    await new Promise((r) => setTimeout(r, 300));
    return message;
  } finally {
    process.kill(wallPid, 'SIGCONT');
  }
}

/** A hold invoice on the wall's node: a payment to it is held by the node until settled with the secret. */
async function holdInvoice(lnd: AuthenticatedLnd, hash: string, amountMsat: bigint): Promise<string> {
  const hold = await createHodlInvoice({
    lnd,
    id: hash,
    mtokens: amountMsat.toString(),
    description: 'held block',
    expires_at: new Date(Date.now() + 3_600_000).toISOString(),
  });
  return hold.request;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('a dishonest wall on real lnd', () => {
  const connectionFile = inject('regtestConnectionPath');
  let rig: ChargeRig | undefined;
  let attacker: CableLink | undefined;
  afterEach(async () => {
    await attacker?.close();
    await rig?.stop();
    attacker = undefined;
    rig = undefined;
  });

  async function open(): Promise<{ rig: ChargeRig; attacker: CableLink }> {
    rig = await startRig(connectionFile);
    attacker = createCableLink('wall', {
      medium: 'slcan',
      path: rig.emulator!.paths.attacker!,
      bitrate: BITRATE,
    });
    await attacker.open();
    return { rig, attacker };
  }

  it('refuses an invoice with two payment hashes signed by the wall node (INVOICE_AMBIGUOUS) and pays neither', async () => {
    const { rig, attacker } = await open();
    const n = regtestNodes(connectionFile);
    const wall = wallLnd(connectionFile);
    const blockWh = 48;
    const secretA = randomBytes(32);
    const hashA = sha256(secretA);
    const hashB = sha256(randomBytes(32));
    let bolt11 = '';
    await injectInvoice(rig, attacker, async (w) => {
      const price = w.schedule[0]!.priceMsatPerWh;
      const amountMsat = price * BigInt(blockWh);
      // A is a real hold invoice of the wall's node: had the car paid it, the HTLC would sit there
      const request = await holdInvoice(wall.lnd, hashA, amountMsat);
      const d = await decodePaymentRequest({ lnd: wall.lnd, request });
      bolt11 = await rawInvoice({
        hrp: `lnbcrt${amountText(amountMsat)}`,
        timestampSec: Math.floor(Date.now() / 1000),
        tags: [
          tag.hash('p', hashA),
          tag.hash('s', d.payment!),
          tag.description('block'),
          tag.expiry(3600),
          tag.cltv(d.cltv_delta ?? 80),
          tag.features(d.features.map((f) => f.bit)),
          tag.hash('p', hashB),
        ],
        sign: lndSigner(wall.lnd, wall.pubkey),
      });
      return {
        type: 'invoice',
        seq: w.invoices.length + 5,
        fromWh: w.paidWh,
        blockWh,
        priceMsatPerWh: price,
        amountMsat,
        bolt11,
      };
    });
    // lnd itself reads the invoice as a valid request for hash A, signed by the wall
    const lndView = await decodePaymentRequest({ lnd: wall.lnd, request: bolt11 });
    expect(lndView.id).toBe(hashA);
    expect(lndView.destination).toBe(wall.pubkey);

    await rig.until(
      'the vehicle refused it and ended',
      async () => (await rig.vehicle.status()).state === 'ended',
      60_000,
    );
    expect((await rig.vehicle.status()).stopReason).toBe('INVOICE_AMBIGUOUS');
    const db = new Database(rig.files.vehicleDb, { readonly: true });
    try {
      const rows = db
        .prepare('SELECT payment_hash FROM payments WHERE payment_hash IN (?, ?)')
        .all(hashA, hashB);
      expect(rows).toEqual([]);
      const refused = db
        .prepare("SELECT data_json FROM events WHERE kind = 'machine.invoiceRefused'")
        .all() as { data_json: string }[];
      expect(refused.some((r) => r.data_json.includes('INVOICE_AMBIGUOUS'))).toBe(true);
    } finally {
      db.close();
    }
    expect((await n.vehicle.paymentStatus(hashA)).state).toBe('unknown');
    expect((await n.vehicle.paymentStatus(hashB)).state).toBe('unknown');
    expect((await n.wall.lookupInvoice(hashA)).state).toBe('open');
  });

  it('keeps a payment held past the pay timeout in doubt, then books it when the wall settles: ledger, budget and node agree', async () => {
    const { rig, attacker } = await open();
    const n = regtestNodes(connectionFile);
    const wall = wallLnd(connectionFile);
    const blockWh = 48;
    const secret = randomBytes(32);
    const hash = sha256(secret);
    let amountMsat = 0n;
    await injectInvoice(rig, attacker, async (w) => {
      const price = w.schedule[0]!.priceMsatPerWh;
      amountMsat = price * BigInt(blockWh);
      const request = await holdInvoice(wall.lnd, hash, amountMsat);
      return {
        type: 'invoice',
        seq: w.invoices.length + 5,
        fromWh: w.paidWh,
        blockWh,
        priceMsatPerWh: price,
        amountMsat,
        bolt11: request,
      };
    });
    const ledgerState = async (): Promise<string | undefined> =>
      (await rig.vehicle.status()).ledger.find((l) => l.paymentHash === hash)?.state;
    await rig.until('the vehicle sent it', async () => (await ledgerState()) === 'sent', 60_000);
    await rig.until(
      'the wall holds the HTLC',
      async () => (await n.wall.lookupInvoice(hash)).state === 'accepted',
      60_000,
    );

    // well past the pay timeout (and the node call's own timeout on top of it)
    await new Promise((r) => setTimeout(r, PAY_TIMEOUT_MS + 15_000 + 5_000));
    expect(await ledgerState()).toBe('sent');
    expect((await n.vehicle.paymentStatus(hash)).state).toBe('in_flight');
    const budget = (): { inDoubt: bigint; spent: bigint } => {
      const db = new Database(rig.files.vehicleDb, { readonly: true });
      try {
        db.defaultSafeIntegers(true);
        const r = db
          .prepare(
            `SELECT COALESCE(SUM(CASE WHEN state IN ('recorded','sent') THEN amount_msat END), 0) AS inDoubt,
                    COALESCE(SUM(amount_msat + COALESCE(fee_msat, 0)), 0) AS spent
             FROM payments WHERE state != 'failed'`,
          )
          .get() as { inDoubt: bigint; spent: bigint };
        return r;
      } finally {
        db.close();
      }
    };
    expect(budget().inDoubt).toBeGreaterThanOrEqual(amountMsat); // counted against the daily budget

    await settleHodlInvoice({ lnd: wall.lnd, secret: secret.toString('hex') });
    await rig.until('the vehicle booked it paid', async () => (await ledgerState()) === 'succeeded', 60_000);
    const node = await n.vehicle.paymentStatus(hash);
    expect(node.state).toBe('succeeded');
    await rig.until(
      'no payment in doubt',
      async () =>
        (await rig.vehicle.status()).ledger.every((l) => l.state !== 'sent' && l.state !== 'recorded'),
      60_000,
    );
    await rig.stop();

    // every row of the vehicle's ledger agrees with its node; the budget counts exactly the node's payments
    const db = new Database(rig.files.vehicleDb, { readonly: true });
    db.defaultSafeIntegers(true);
    const rows = db.prepare('SELECT payment_hash, state, amount_msat, fee_msat FROM payments').all() as {
      payment_hash: string;
      state: string;
      amount_msat: bigint;
      fee_msat: bigint | null;
    }[];
    db.close();
    let nodeSpent = 0n;
    for (const r of rows) {
      const st = await n.vehicle.paymentStatus(r.payment_hash);
      if (r.state === 'succeeded') {
        expect(st.state).toBe('succeeded');
        expect(st.amountMsat).toBe(r.amount_msat);
        expect(st.feeMsat).toBe(r.fee_msat);
        nodeSpent += (st.amountMsat ?? 0n) + (st.feeMsat ?? 0n);
      } else {
        expect(r.state, `${r.payment_hash}: ${r.state}, node ${st.state}`).toBe('failed');
        expect(['failed', 'unknown']).toContain(st.state);
      }
    }
    expect(rows.find((r) => r.payment_hash === hash)?.state).toBe('succeeded');
    expect(budget().spent).toBe(nodeSpent);
    expect(budget().inDoubt).toBe(0n);
  });
});
