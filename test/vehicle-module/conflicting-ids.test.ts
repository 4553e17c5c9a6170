// The real vehicle daemon (store, runner, buyer machine) against a scripted wall that reuses ids across
// sessions: first an honest session with a receipt, then a hello with the same session id, then a session
// whose invoice reuses a payment hash of the first. Before the fix both crashed the daemon inside write-ahead
// (PRIMARY KEY / UNIQUE) and the reused session id overwrote the stored receipt. Now both are refused with a
// reason, nothing stored is touched, and the node is never asked to pay the reused hash. The cable is an
// in-memory pair and the Lightning node the in-process rig's scripted car node, settling at the scripted wall: this is a
// logic test of the daemon's wiring (the real-lnd proof of the payment path is test/e2e/hostile-wall).
import { EventEmitter } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigReader } from '../../daemon/config-reader.js';
import type { Logger } from '../../daemon/logger.js';
import { SystemClock } from '../../hardware/clock.js';
import type { CableLink, CableLinkEvents } from '../../hardware/link/cable-link.js';
import type { EnergyMeter, MeterReading } from '../../hardware/meter/energy-meter.js';
import {
  createSeller,
  Reason,
  reasonName,
  buyerEndReason,
  sellerEndReason,
  sellerStep,
  signNodeMessage,
  type SellerEvent,
  type SellerState,
} from '../../protocol/index.js';
import { readVehicleConfig } from '../../vehicle-module/config.js';
import { VehicleDaemon } from '../../vehicle-module/vehicle-daemon.js';
import { VehicleStore } from '../../vehicle-module/store.js';
import { makeInvoice, sha256hex, testSellerConfig, WALL_KEY } from '../protocol/harness.js';
import { scriptedCarNode } from '../wall-module/in-process-rig.js';

const clock = new SystemClock();

/** The vehicle's end of an in-memory cable; `toWall` receives what the vehicle sends. */
class MemoryLink extends EventEmitter<CableLinkEvents> implements CableLink {
  isUp = false;
  toWall: (bytes: Uint8Array) => void = () => {};
  async open(): Promise<void> {
    this.isUp = true;
    this.emit('up');
  }
  async send(bytes: Uint8Array): Promise<void> {
    const copy = Uint8Array.from(bytes);
    setImmediate(() => this.toWall(copy));
  }
  async close(): Promise<void> {
    this.isUp = false;
  }
}

/** A wall driven by the real seller machine; invoices get the hashes the script chooses. */
class ScriptedWall {
  seller: SellerState;
  private readonly preimages = new Map<string, string>();
  private timer: NodeJS.Timeout;
  constructor(
    private readonly link: MemoryLink,
    entropyHex: string,
    private readonly hashFor: (seq: number) => { hash: string; preimage: string },
  ) {
    this.seller = createSeller(testSellerConfig({ depositBlocks: 1, minBlockWh: 10, maxBlockWh: 20 }));
    link.toWall = (bytes) => this.step({ type: 'frame', bytes, atMs: clock.now() });
    this.step({ type: 'plug', entropyHex, atMs: clock.now() });
    this.step({ type: 'meter', energyWh: 0, powerW: 0, voltageV: 230, currentA: 0, atMs: clock.now() });
    this.timer = setInterval(() => this.step({ type: 'tick', atMs: clock.now() }), 100);
  }
  step(ev: SellerEvent): void {
    const r = sellerStep(this.seller, ev);
    this.seller = r.state;
    for (const e of r.effects) {
      if (e.type === 'send') setImmediate(() => this.link.emit('message', e.frame));
      else if (e.type === 'signWithNodeKey') {
        const signature = signNodeMessage(e.text, WALL_KEY).zbase32;
        setImmediate(() => this.step({ type: 'nodeSignature', text: e.text, signature, atMs: clock.now() }));
      } else if (e.type === 'createInvoice') {
        const { hash, preimage } = this.hashFor(e.seq);
        this.preimages.set(hash, preimage);
        const bolt11 = makeInvoice({
          key: WALL_KEY,
          amountMsat: e.amountMsat,
          paymentHash: hash,
          timestampSec: Math.floor(clock.now() / 1000),
          expirySec: e.expirySec,
        });
        setImmediate(() =>
          this.step({ type: 'invoiceCreated', seq: e.seq, bolt11, paymentHash: hash, atMs: clock.now() }),
        );
      }
    }
  }
  /** The wall's node receives a payment: settles it and returns the preimage. */
  settle(hash: string, amountMsat: bigint): string {
    this.step({ type: 'invoiceSettled', paymentHash: hash, amountMsat, atMs: clock.now() });
    return this.preimages.get(hash) ?? '';
  }
  close(): void {
    clearInterval(this.timer);
  }
}

const still: EnergyMeter = {
  read: async (): Promise<MeterReading> => ({
    energyImportWh: 5000,
    powerW: 0,
    voltageV: 230,
    currentA: 0,
    atMs: clock.now(),
  }),
  close: async () => {},
};

async function until(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('vehicle daemon: a wall reusing ids', () => {
  let daemon: VehicleDaemon | undefined;
  let wall: ScriptedWall | undefined;
  afterEach(async () => {
    wall?.close();
    await daemon?.stop();
  });

  it('refuses a reused session id and a reused payment hash with reasons; receipts and rows stay as stored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'veh-ids-'));
    const config = readVehicleConfig(
      ConfigReader.fromYaml(`
limits: { maxPriceMsatPerWh: 150, sessionBudgetMsat: 10000000, dailyBudgetMsat: 20000000, wallBackoffSec: 0 }
lightning: { socket: "127.0.0.1:10009", macaroon: admin.macaroon }
link: { kind: ip, peerAddress: "::1" }
meter: { kind: sim, url: "http://127.0.0.1:1/", name: vehicle, pollIntervalMs: 100 }
status: { enabled: false }
`),
    );
    const store = VehicleStore.open(join(dir, 'vehicle.sqlite'), clock);
    const link = new MemoryLink();
    const paid: string[] = [];
    const errors: string[] = [];
    const log: Logger = {
      debug: () => {},
      info: () => {},
      warn: () => {},
      error: (msg, fields) => void errors.push(`${msg} ${JSON.stringify(fields)}`),
    };
    daemon = await VehicleDaemon.start({
      config,
      clock,
      log,
      store,
      node: scriptedCarNode((hash, amountMsat) => {
        paid.push(hash);
        return wall!.settle(hash, amountMsat);
      }, new Map()),
      link,
      meter: still,
    });
    const d = daemon;
    const fresh = (seq: number, salt: string) => {
      const preimage = sha256hex(`${salt} ${seq}`);
      return { hash: sha256hex(Buffer.from(preimage, 'hex')), preimage };
    };

    // 1. an honest session: deposit paid, the wall stops, receipt stored (no energy flowed: that would put the
    //    wall in back-off, which is switched off here to reach the id checks)
    wall = new ScriptedWall(link, 'a1'.repeat(32), (seq) => fresh(seq, 'one'));
    await until('deposit paid', () => d.state.payments.some((p) => p.status === 'paid'));
    const first = d.state.sessionId!;
    wall.step({ type: 'stopRequest', reason: Reason.USER_STOP, atMs: clock.now() });
    await until(
      'session 1 ended with a receipt',
      () => d.state.phase === 'ended' && store.receipt(first) !== undefined,
    );
    const receipt = store.receipt(first)!;
    const session = store.getSession(first);
    const rows = store.payments(first);
    expect(rows.map((p) => p.state)).toEqual(['succeeded']);
    wall.close();

    // 2. a new hello with the same session id: refused, nothing written to session 1
    wall = new ScriptedWall(link, 'a1'.repeat(32), (seq) => fresh(seq, 'two'));
    await until('refused', () => buyerEndReason(d.state) === Reason.SESSION_ID_REUSED);
    await until('the wall heard why', () => wall!.seller.phase === 'ended');
    expect(reasonName(sellerEndReason(wall.seller) ?? 0)).toBe('SESSION_ID_REUSED');
    wall.close();

    // 3. a new session whose first invoice reuses session 1's payment hash: refused before the node
    const reused = rows[0]!.paymentHash;
    wall = new ScriptedWall(link, 'b2'.repeat(32), (seq) =>
      seq === 0 ? { hash: reused, preimage: '' } : fresh(seq, 'three'),
    );
    await until(
      'refused',
      () => buyerEndReason(d.state) === Reason.INVOICE_DUPLICATE && d.state.phase !== 'charging',
    );
    const third = d.state.sessionId!;
    expect(third).not.toBe(first);
    expect(paid.filter((h) => h === reused)).toHaveLength(1); // paid once, in session 1 only
    expect(store.payments(third)).toEqual([]);

    // session 1 is exactly as it was
    expect(store.receipt(first)).toEqual(receipt);
    expect(store.getSession(first)).toEqual(session);
    expect(store.payments(first)).toEqual(rows);
    expect(errors).toEqual([]);
    const kinds = store.events({ limit: 100_000 }).map((e) => e.kind);
    expect(kinds).toContain('payment.conflict');
  });
});
