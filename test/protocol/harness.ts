// Test harness: a seller and a buyer machine wired back to back, with an in-process Lightning stand-in that
// creates real signed BOLT11 invoices (bolt11 encode + sign with known keys) and settles them when paid, and
// two meters. Used by the machine transition tests and the property tests; it is logic-test scaffolding only.
import { createHash } from 'node:crypto';
import bolt11 from 'bolt11';
import {
  buyerConfig,
  buyerStep,
  createBuyer,
  createSeller,
  publicKeyOf,
  sellerConfig,
  sellerStep,
  sealMessage,
  signNodeMessage,
  sellerKeyed,
  buyerKeyed,
  type BuyerConfig,
  type InvoiceMessage,
  type SealedMessage,
  type BuyerEvent,
  type BuyerState,
  type Effect,
  type Network,
  type SellerConfig,
  type SellerEvent,
  type SellerState,
} from '../../protocol/index.js';
import { delegationText, type Delegation } from '../../protocol/delegation.js';
import {
  persistBuyerState,
  persistSellerState,
  restoreBuyerState,
  restoreSellerState,
} from '../../protocol/serialize.js';

export const WALL_KEY = '11'.repeat(32);
export const WALL_PUB = publicKeyOf(WALL_KEY);
export const OTHER_KEY = '22'.repeat(32);
export const CAR_NODE_KEY = '33'.repeat(32);
export const T0 = 1_760_000_000_000;
/** The wall daemon's signing delegate key (protocol version 3, offline case 1b) in the tests. */
export const DELEGATE_KEY = '44'.repeat(32);
export const DELEGATE_PUB = publicKeyOf(DELEGATE_KEY);

/**
 * A delegation of `DELEGATE_PUB` by the wall's node key (protocol/delegation.ts), as the wall daemon holds it.
 *
 * @param o untilMs: validity end (ms since the epoch); signer: the key that signs it (default `WALL_KEY`; another
 *   key forges it)
 */
export function testDelegation(o: { untilMs: number; signer?: string }): Delegation {
  const text = delegationText({ nodePub: WALL_PUB, delegatePub: DELEGATE_PUB, untilMs: o.untilMs });
  return {
    delegatePub: DELEGATE_PUB,
    untilMs: o.untilMs,
    signature: signNodeMessage(text, o.signer ?? WALL_KEY).signatureHex,
  };
}

const BECH32: Record<Network, string> = { bitcoin: 'bc', testnet: 'tb', signet: 'tbs', regtest: 'bcrt' };

export function sha256hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A real signed BOLT11 invoice. */
export function makeInvoice(o: {
  key: string;
  network?: Network;
  amountMsat: bigint;
  paymentHash: string;
  timestampSec: number;
  expirySec?: number;
  description?: string;
}): string {
  const enc = bolt11.encode({
    network: {
      bech32: BECH32[o.network ?? 'regtest'],
      pubKeyHash: 0x6f,
      scriptHash: 0xc4,
      validWitnessVersions: [0, 1],
    },
    millisatoshis: o.amountMsat.toString(),
    timestamp: o.timestampSec,
    tags: [
      { tagName: 'payment_hash', data: o.paymentHash },
      { tagName: 'payment_secret', data: sha256hex(o.paymentHash) },
      { tagName: 'description', data: o.description ?? 'boltcharge test' },
      { tagName: 'expire_time', data: o.expirySec ?? 600 },
    ],
  });
  return bolt11.sign(enc, o.key).paymentRequest as string;
}

export function testSellerConfig(over: Partial<SellerConfig> = {}): SellerConfig {
  const c = sellerConfig({
    nodePubkey: WALL_PUB,
    network: 'regtest',
    priceMsatPerWh: 100n,
    // the values these tests were written against (the operator defaults live in protocol/config.ts)
    maxBlockWh: 200,
    depositBlocks: 2,
    graceWh: 5,
    maxPowerW: 7400,
    ...over,
  });
  if (!c.ok) throw new Error(c.error.message);
  return c.value;
}

export function testBuyerConfig(over: Partial<BuyerConfig> = {}): BuyerConfig {
  const c = buyerConfig({
    network: 'regtest',
    maxPriceMsatPerWh: 150n,
    sessionBudgetMsat: 10_000_000n,
    // the values these tests were written against (the operator defaults live in protocol/config.ts)
    maxBlockWh: 200,
    maxPrepaidWh: 500,
    meterToleranceWh: 20,
    meterTolerancePpm: 20_000,
    maxFeeMsat: 1000n,
    ...over,
  });
  if (!c.ok) throw new Error(c.error.message);
  return c.value;
}

export interface NodeInvoice {
  seq: number;
  paymentHash: string;
  preimage: string;
  amountMsat: bigint;
  status: 'open' | 'settled' | 'cancelled';
}

/** Back-to-back simulation. Every knob is public so tests can misbehave on purpose. */
export class Sim {
  seller: SellerState;
  buyer: BuyerState;
  now = T0;
  toBuyer: Uint8Array[] = [];
  toSeller: Uint8Array[] = [];
  sellerQueue: SellerEvent[] = [];
  buyerQueue: BuyerEvent[] = [];
  sellerEffects: Effect[] = [];
  buyerEffects: Effect[] = [];
  /** Every frame the seller/buyer ever sent (for replay tests). */
  sentBySeller: Uint8Array[] = [];
  sentByBuyer: Uint8Array[] = [];
  /** Every frame actually delivered by `run()` to the buyer/seller. */
  deliveredToBuyer: Uint8Array[] = [];
  deliveredToSeller: Uint8Array[] = [];
  nodeInvoices: NodeInvoice[] = [];
  energized = false;
  wallRegisterWh = 1000;
  carRegisterWh = 5000;
  powerW = 7200;
  /** The wall node's key: it signs the handshake (and, by default, invoices). */
  wallKey = WALL_KEY;
  /** Key the fake wall node signs invoices with (set to OTHER_KEY to forge). */
  invoiceKey = WALL_KEY;
  autoPay = true;
  failPayments = false;
  /** The fake wall node fails every `createInvoice` (answers `invoiceCreateFailed`). */
  failInvoices = false;
  heldPayments: { hash: string }[] = [];
  /** When set, the node does not carry out cancels until `answerCancel` (a slow node). */
  holdCancels = false;
  heldCancels: string[] = [];
  linkUp = true;

  constructor(sellerCfg: SellerConfig = testSellerConfig(), buyerCfg: BuyerConfig = testBuyerConfig()) {
    this.seller = createSeller(sellerCfg);
    this.buyer = createBuyer(buyerCfg);
  }

  stepSeller(ev: SellerEvent): Effect[] {
    const r = sellerStep(this.seller, ev);
    this.seller = r.state;
    this.sellerEffects.push(...r.effects);
    for (const e of r.effects) this.onSellerEffect(e);
    return r.effects;
  }

  stepBuyer(ev: BuyerEvent): Effect[] {
    const r = buyerStep(this.buyer, ev);
    this.buyer = r.state;
    this.buyerEffects.push(...r.effects);
    for (const e of r.effects) this.onBuyerEffect(e);
    return r.effects;
  }

  private onSellerEffect(e: Effect): void {
    switch (e.type) {
      case 'send':
        this.sentBySeller.push(e.frame);
        if (this.linkUp) this.toBuyer.push(e.frame);
        return;
      case 'signWithNodeKey':
        this.sellerQueue.push({
          type: 'nodeSignature',
          atMs: this.now,
          text: e.text,
          signature: signNodeMessage(e.text, this.wallKey).zbase32,
        });
        return;
      case 'createInvoice': {
        if (this.failInvoices) {
          this.sellerQueue.push({
            type: 'invoiceCreateFailed',
            atMs: this.now,
            seq: e.seq,
            error: 'node down',
          });
          return;
        }
        const preimage = sha256hex(`${this.seller.sessionId}:${e.seq}:${this.nodeInvoices.length}`);
        const paymentHash = sha256hex(Buffer.from(preimage, 'hex'));
        this.nodeInvoices.push({
          seq: e.seq,
          paymentHash,
          preimage,
          amountMsat: e.amountMsat,
          status: 'open',
        });
        const b = makeInvoice({
          key: this.invoiceKey,
          amountMsat: e.amountMsat,
          paymentHash,
          timestampSec: Math.floor(this.now / 1000),
          expirySec: e.expirySec,
        });
        this.sellerQueue.push({ type: 'invoiceCreated', atMs: this.now, seq: e.seq, bolt11: b, paymentHash });
        return;
      }
      case 'cancelInvoice':
        if (this.holdCancels) this.heldCancels.push(e.paymentHash);
        else this.answerCancel(e.paymentHash);
        return;
      case 'energize':
        this.energized = true;
        return;
      case 'cutPower':
        this.energized = false;
        return;
      default:
        return;
    }
  }

  /**
   * The node carries out a cancel: an open invoice is cancelled; one already settled (paid as it was being
   * cancelled) is not. Either way the seller is told.
   */
  answerCancel(hash: string): void {
    const inv = this.nodeInvoices.find((i) => i.paymentHash === hash);
    if (inv !== undefined && inv.status === 'open') inv.status = 'cancelled';
    this.sellerQueue.push({ type: 'cancelAnswered', atMs: this.now, paymentHash: hash });
  }

  settle(hash: string): void {
    const inv = this.nodeInvoices.find((i) => i.paymentHash === hash);
    if (inv === undefined || inv.status !== 'open' || this.failPayments) {
      this.buyerQueue.push({
        type: 'paymentResult',
        atMs: this.now,
        paymentHash: hash,
        ok: false,
        error: 'no route',
      });
      return;
    }
    inv.status = 'settled';
    this.sellerQueue.push({
      type: 'invoiceSettled',
      atMs: this.now,
      paymentHash: hash,
      amountMsat: inv.amountMsat,
    });
    this.buyerQueue.push({
      type: 'paymentResult',
      atMs: this.now,
      paymentHash: hash,
      ok: true,
      preimage: inv.preimage,
      feeMsat: 1n,
    });
  }

  private onBuyerEffect(e: Effect): void {
    switch (e.type) {
      case 'send':
        this.sentByBuyer.push(e.frame);
        if (this.linkUp) this.toSeller.push(e.frame);
        return;
      case 'signWithNodeKey':
        this.buyerQueue.push({
          type: 'nodeSignature',
          atMs: this.now,
          text: e.text,
          signature: signNodeMessage(e.text, CAR_NODE_KEY).zbase32,
        });
        return;
      case 'pay':
        if (this.autoPay) this.settle(e.paymentHash);
        else this.heldPayments.push({ hash: e.paymentHash });
        return;
      default:
        return;
    }
  }

  /** Delivers queued frames and events until nothing is left or `until()` holds (bounded). */
  run(maxSteps = 10_000, until: () => boolean = () => false): void {
    for (let i = 0; i < maxSteps; i++) {
      if (until()) return;
      const sEv = this.sellerQueue.shift();
      if (sEv !== undefined) {
        this.stepSeller(sEv);
        continue;
      }
      const bEv = this.buyerQueue.shift();
      if (bEv !== undefined) {
        this.stepBuyer(bEv);
        continue;
      }
      const toB = this.toBuyer.shift();
      if (toB !== undefined) {
        this.deliveredToBuyer.push(toB);
        this.stepBuyer({ type: 'frame', atMs: this.now, bytes: toB });
        continue;
      }
      const toS = this.toSeller.shift();
      if (toS !== undefined) {
        this.deliveredToSeller.push(toS);
        this.stepSeller({ type: 'frame', atMs: this.now, bytes: toS });
        continue;
      }
      return;
    }
    throw new Error('simulation did not settle');
  }

  /** Plugs both sides in (buyer first, fixed entropy) and delivers nothing yet. */
  plugBoth(): void {
    this.stepBuyer({ type: 'plug', atMs: this.now, entropyHex: 'bb'.repeat(32) });
    this.stepSeller({ type: 'plug', atMs: this.now, entropyHex: 'aa'.repeat(32) });
  }

  /** Delivers the next frame queued for the buyer. @returns the buyer's effects */
  deliverToBuyer(): Effect[] {
    return this.stepBuyer({ type: 'frame', atMs: this.now, bytes: this.toBuyer.shift() as Uint8Array });
  }

  /** Delivers the next frame queued for the seller. @returns the seller's effects */
  deliverToSeller(): Effect[] {
    return this.stepSeller({ type: 'frame', atMs: this.now, bytes: this.toSeller.shift() as Uint8Array });
  }

  /**
   * Plugs both sides in and exchanges the hellos (the wall's to the buyer, the vehicle's to the seller): both
   * are then authenticating.
   * @returns the seller's effects of taking the vehicle's hello
   */
  exchangeHellos(): Effect[] {
    this.plugBoth();
    this.deliverToBuyer();
    return this.deliverToSeller();
  }

  /** Plugs both sides in (buyer first) and runs the handshake and offer. */
  plug(): void {
    this.plugBoth();
    this.meters();
    this.run();
  }

  /** Both meters report. */
  meters(): void {
    const m = {
      powerW: this.energized ? this.powerW : 0,
      voltageV: 230,
      currentA: this.energized ? this.powerW / 230 : 0,
    };
    this.stepSeller({ type: 'meter', atMs: this.now, energyWh: this.wallRegisterWh, ...m });
    this.stepBuyer({ type: 'meter', atMs: this.now, energyWh: this.carRegisterWh, ...m });
  }

  /** Time passes in one-second steps; energy flows while energized; meters and ticks each second. */
  advance(ms: number, whPerSecond = this.powerW / 3600): void {
    for (let t = 0; t < ms; t += 1000) {
      this.now += 1000;
      if (this.energized) {
        this.wallRegisterWh += Math.floor(whPerSecond);
        this.carRegisterWh += Math.floor(whPerSecond);
      }
      this.meters();
      this.stepSeller({ type: 'tick', atMs: this.now });
      this.stepBuyer({ type: 'tick', atMs: this.now });
      this.run();
    }
  }

  /**
   * Both machines are persisted and restored, as a daemon restart does (the queues of undelivered events and
   * frames are kept: they stand for what the shells still deliver after their restart).
   */
  restart(): void {
    this.seller = restoreOrThrow(restoreSellerState(persistSellerState(this.seller)));
    this.buyer = restoreOrThrow(restoreBuyerState(persistBuyerState(this.buyer)));
  }

  ofType<T extends Effect['type']>(effects: Effect[], type: T): Extract<Effect, { type: T }>[] {
    return effects.filter((e): e is Extract<Effect, { type: T }> => e.type === type);
  }
}

function restoreOrThrow<T>(r: { ok: true; value: T } | { ok: false; error: { message: string } }): T {
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

let injected = 0;

/** Seals `message` as the wall (advancing the seller's channel) and delivers it to the buyer. */
export function injectFromWall(sim: Sim, message: SealedMessage): Effect[] {
  const seller = sim.seller;
  if (!sellerKeyed(seller)) throw new Error('no channel');
  const r = sealMessage(seller.channel, message);
  if (!r.ok) throw new Error(r.error.message);
  seller.channel = r.value.channel;
  return sim.stepBuyer({ type: 'frame', atMs: sim.now, bytes: r.value.frame });
}

/** Seals `message` as the vehicle and delivers it to the seller. */
export function injectFromVehicle(sim: Sim, message: SealedMessage): Effect[] {
  const buyer = sim.buyer;
  if (!buyerKeyed(buyer)) throw new Error('no channel');
  const ch = buyer.channel;
  const r = sealMessage(ch, message);
  if (!r.ok) throw new Error(r.error.message);
  buyer.channel = r.value.channel;
  return sim.stepSeller({ type: 'frame', atMs: sim.now, bytes: r.value.frame });
}

/** A valid next invoice from the wall for the buyer's current state, with overrides. */
export function wallInvoice(
  sim: Sim,
  over: Partial<InvoiceMessage> & {
    key?: string;
    network?: Network;
    bolt11Amount?: bigint;
    timestampSec?: number;
    paymentHash?: string;
  } = {},
): InvoiceMessage {
  const blockWh = over.blockWh ?? 20;
  const price = over.priceMsatPerWh ?? 100n;
  const amountMsat = over.amountMsat ?? price * BigInt(blockWh);
  injected += 1;
  const bolt = makeInvoice({
    key: over.key ?? sim.wallKey,
    network: over.network ?? 'regtest',
    amountMsat: over.bolt11Amount ?? amountMsat,
    paymentHash: over.paymentHash ?? sha256hex(`injected ${injected}`),
    timestampSec: over.timestampSec ?? Math.floor(sim.now / 1000),
    expirySec: 600,
  });
  return {
    type: 'invoice',
    seq: over.seq ?? sim.buyer.lastSeq + 1,
    fromWh: sim.buyer.committedWh,
    blockWh,
    priceMsatPerWh: price,
    amountMsat,
    bolt11: over.bolt11 ?? bolt,
  };
}
