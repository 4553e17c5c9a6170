// The real vehicle daemon (store, runner, buyer machine) against a scripted wall: the real seller machine over an
// in-memory cable, its invoices with hashes the test chooses, its signatures by the wall's node key or (a node
// that cannot sign, offline case 1b) by a delegate key under a delegation. The car's Lightning node is the
// in-process rig's scripted node, settling at the scripted wall. Logic-test scaffolding for the daemon's wiring.
import { EventEmitter } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigReader } from '../../daemon/config-reader.js';
import type { Logger } from '../../daemon/logger.js';
import { SystemClock } from '../../hardware/clock.js';
import type { CableLink, CableLinkEvents } from '../../hardware/link/cable-link.js';
import type { EnergyMeter, MeterReading } from '../../hardware/meter/energy-meter.js';
import type { Delegation } from '../../protocol/delegation.js';
import {
  createSeller,
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

export const clock = new SystemClock();

/** The vehicle's end of an in-memory cable; `toWall` receives what the vehicle sends. */
export class MemoryLink extends EventEmitter<CableLinkEvents> implements CableLink {
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

/** How the scripted wall answers a `signWithNodeKey`: a signature, and the delegation it is made under, if any. */
export type WallSigner = (text: string) => { signature: string; delegation?: Delegation };

/** The wall's node signs (zbase32, as lnd returns it). */
export const nodeSigner: WallSigner = (text) => ({ signature: signNodeMessage(text, WALL_KEY).zbase32 });

/** A wall driven by the real seller machine; invoices get the hashes the script chooses. */
export class ScriptedWall {
  seller: SellerState;
  private readonly preimages = new Map<string, string>();
  private timer: NodeJS.Timeout;
  /**
   * @param link the cable
   * @param entropyHex the seller's plug entropy (fixes its session id)
   * @param hashFor the payment hash (and preimage) of invoice `seq`
   * @param sign how the wall signs (default: its node key)
   */
  constructor(
    private readonly link: MemoryLink,
    entropyHex: string,
    private readonly hashFor: (seq: number) => { hash: string; preimage: string },
    private readonly sign: WallSigner = nodeSigner,
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
        const signed = this.sign(e.text);
        setImmediate(() => this.step({ type: 'nodeSignature', text: e.text, ...signed, atMs: clock.now() }));
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

/** A meter that reads the same register forever (no energy flows). */
export const stillMeter: EnergyMeter = {
  read: async (): Promise<MeterReading> => ({
    energyImportWh: 5000,
    powerW: 0,
    voltageV: 230,
    currentA: 0,
    atMs: clock.now(),
  }),
  close: async () => {},
};

/** Waits until `cond` holds (polling every 20 ms), or throws after `timeoutMs`. */
export async function until(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A fresh payment hash and preimage for invoice `seq` (`salt` keeps sessions apart). */
export function freshHash(seq: number, salt: string): { hash: string; preimage: string } {
  const preimage = sha256hex(`${salt} ${seq}`);
  return { hash: sha256hex(Buffer.from(preimage, 'hex')), preimage };
}

/** A started vehicle daemon on an in-memory cable, with what its node paid and what it logged as errors. */
export interface VehicleUnderTest {
  daemon: VehicleDaemon;
  store: VehicleStore;
  link: MemoryLink;
  /** payment hashes the car's node paid, in order */
  paid: string[];
  /** error log lines */
  errors: string[];
}

/**
 * Starts the real vehicle daemon (store in a fresh temporary directory, back-off off) whose node pays the wall
 * `wall()` returns at the time of payment.
 *
 * @param wall the scripted wall now on the cable
 */
export async function startVehicle(wall: () => ScriptedWall | undefined): Promise<VehicleUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'veh-scripted-'));
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
  const daemon = await VehicleDaemon.start({
    config,
    clock,
    log,
    store,
    node: scriptedCarNode((hash, amountMsat) => {
      paid.push(hash);
      return wall()!.settle(hash, amountMsat);
    }, new Map()),
    link,
    meter: stillMeter,
  });
  return { daemon, store, link, paid, errors };
}
