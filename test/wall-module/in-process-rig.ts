// An in-process charging rig for daemon tests on a manual clock: the real wall and vehicle daemons (stores,
// runners, seller and buyer machines), the simulated charger and meters (hardware/sim) on the same clock, an
// in-memory cable, and a scripted Lightning pair: the wall's node makes real BOLT11 invoices signed with a test
// key and delivers settlements through the same `SettlementDelivery` as `LndNode` (acknowledge after commit,
// retry, committed settle index); the car's node pays by settling at the wall's node. A logic rig: the proof on
// real lnd is test/e2e.
import { runClock, runClockUntil } from './clock-steps.js';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigReader } from '../../daemon/config-reader.js';
import type { Logger } from '../../daemon/logger.js';
import { lockStore, type StoreLock } from '../../daemon/store-lock.js';
import { ManualClock } from '../../hardware/clock.js';
import type { CableLink, CableLinkEvents } from '../../hardware/link/cable-link.js';
import { createSimWorld, type SimWorld } from '../../hardware/sim/sim-world.js';
import { InvoiceAlreadyExists, InvoiceNotFound } from '../../lightning/errors.js';
import type { HoldInvoiceEvent, HoldInvoiceState } from '../../lightning/hold-invoice.js';
import type {
  InvoiceState,
  LightningNode,
  PaymentResult,
  SettlementEvent,
} from '../../lightning/lightning-node.js';
import { SettlementDelivery, type SettlementCursor } from '../../lightning/settlement-delivery.js';
import { decodeInvoice, signNodeMessage } from '../../protocol/index.js';
import { readVehicleConfig } from '../../vehicle-module/config.js';
import { VehicleStore } from '../../vehicle-module/store.js';
import { VehicleDaemon } from '../../vehicle-module/vehicle-daemon.js';
import { readWallConfig } from '../../wall-module/config.js';
import { WallStore } from '../../wall-module/store.js';
import { WallDaemon, type WallParts } from '../../wall-module/wall-daemon.js';
import { makeInvoice, sha256hex, WALL_KEY, WALL_PUB } from '../protocol/harness.js';

/** One end of an in-memory cable. */
export class MemoryLink extends EventEmitter<CableLinkEvents> implements CableLink {
  isUp = false;
  peer: MemoryLink | null = null;
  async open(): Promise<void> {
    this.isUp = true;
    this.emit('up');
    if (this.peer?.isUp) this.peer.emit('up');
  }
  async send(bytes: Uint8Array): Promise<void> {
    const copy = Uint8Array.from(bytes);
    const peer = this.peer;
    if (!peer?.isUp || !this.isUp) return;
    setImmediate(() => peer.isUp && peer.emit('message', copy));
  }
  async close(): Promise<void> {
    this.isUp = false;
    this.removeAllListeners();
    if (this.peer?.isUp) this.peer.emit('down', 'peer closed');
  }
}

/** A fresh link end for each daemon start, connected to the current other end. */
export class Cable {
  wall = new MemoryLink();
  vehicle = new MemoryLink();
  constructor() {
    this.wall.peer = this.vehicle;
    this.vehicle.peer = this.wall;
  }
  newWallEnd(): MemoryLink {
    this.wall = new MemoryLink();
    this.wall.peer = this.vehicle;
    this.vehicle.peer = this.wall;
    return this.wall;
  }
}

/** Every `LightningNode` command, each throwing: the scripted nodes override what their side uses. */
export function unusedNode(side: string): LightningNode {
  const fail = (): never => {
    throw new Error(`not used by the ${side}`);
  };
  return {
    getIdentity: fail,
    createInvoice: fail,
    onSettled: fail,
    lookupInvoice: fail,
    cancelInvoice: fail,
    signMessage: fail,
    verifyMessage: fail,
    decodePaymentRequest: fail,
    pay: fail,
    paymentStatus: fail,
    getBalances: fail,
    getNodeAlias: async () => null,
    createHoldInvoice: fail,
    watchHoldInvoice: fail,
    settleHoldInvoice: fail,
    cancelHoldInvoice: fail,
    lookupHoldInvoice: fail,
    close: async () => {},
  };
}

interface ScriptedInvoice {
  paymentHash: string;
  preimage: string;
  amountMsat: bigint;
  receivedMsat: bigint;
  expiresAt: number;
  state: InvoiceState['state'];
  settleIndex: number;
}

/** A hold invoice of the scripted node (walk-up deposits and final invoices). */
interface ScriptedHoldInvoice {
  state: HoldInvoiceState;
  cltvDeltaBlocks: number;
  bolt11: string;
}

/** The scripted node's block height (hold invoices: a held HTLC expires `cltvDeltaBlocks` above it). */
const SCRIPTED_HEIGHT = 1000;

/**
 * The wall's Lightning node, scripted: invoices, settlement with an lnd-like settle index, cancel, lookups, and
 * hold invoices (a wallet's HTLC is held with `holdPay`). Each `client()` is what one daemon process sees (its own
 * delivery, resuming after the persisted index).
 */
export class ScriptedWallNode {
  readonly invoices = new Map<string, ScriptedInvoice>();
  readonly holdInvoices = new Map<string, ScriptedHoldInvoice>();
  private readonly holdWatchers = new Map<string, Set<(ev: HoldInvoiceEvent) => void>>();
  private settleIndex = 0;
  private clients: { delivery: SettlementDelivery; closed: boolean }[] = [];
  constructor(private readonly clock: ManualClock) {}

  /** msat the node received (settled invoices). */
  receivedMsat(): bigint {
    let sum = 0n;
    for (const inv of this.invoices.values()) if (inv.state === 'settled') sum += inv.receivedMsat;
    return sum;
  }

  /** A payer pays one of our invoices: settles it and tells the connected clients. */
  settle(paymentHash: string, amountMsat: bigint): string {
    const inv = this.invoices.get(paymentHash);
    if (!inv || inv.state !== 'open') throw new Error(`invoice ${paymentHash} is not payable`);
    inv.state = 'settled';
    inv.receivedMsat = amountMsat;
    inv.settleIndex = ++this.settleIndex;
    const ev = this.event(inv);
    for (const c of this.clients) if (!c.closed) c.delivery.deliver(ev);
    return inv.preimage;
  }

  /**
   * A wallet pays a hold invoice: its HTLC of the full amount is held (the watchers hear `held`).
   * @param paymentHash the hold invoice's hash
   */
  holdPay(paymentHash: string): void {
    const h = this.holdInvoices.get(paymentHash);
    if (!h || h.state.phase !== 'open') throw new Error(`hold invoice ${paymentHash} is not payable`);
    h.state = {
      ...h.state,
      phase: 'held',
      receivedMsat: h.state.amountMsat,
      htlcExpiryHeight: SCRIPTED_HEIGHT + h.cltvDeltaBlocks,
      acceptHeight: SCRIPTED_HEIGHT,
    };
    this.holdEvent(h.state);
  }

  private holdEvent(st: HoldInvoiceState): void {
    const ev = holdEventOf(st);
    if (ev) for (const w of this.holdWatchers.get(st.paymentHash) ?? []) w(ev);
  }

  private event(inv: ScriptedInvoice): SettlementEvent {
    return {
      paymentHash: inv.paymentHash,
      amountMsat: inv.receivedMsat,
      settledAtMs: this.clock.now(),
      preimage: inv.preimage,
      settleIndex: inv.settleIndex,
    };
  }

  /** The node as one daemon process sees it. */
  client(): LightningNode {
    const clock = this.clock;
    const delivery = new SettlementDelivery(0, {
      firstRetryMs: 200,
      maxRetryMs: 2000,
      schedule: (ms, fn) => clock.setTimer(ms, fn),
    });
    const me = { delivery, closed: false };
    this.clients.push(me);
    let subscribed = false;
    return {
      ...unusedNode('wall'),
      getIdentity: async () => ({ pubkey: WALL_PUB, network: 'regtest', synced: true }),
      createInvoice: async ({ amountMsat, expirySec }) => {
        const preimage = randomBytes(32).toString('hex');
        const paymentHash = sha256hex(Buffer.from(preimage, 'hex'));
        const timestampSec = Math.floor(clock.now() / 1000);
        const bolt11 = makeInvoice({ key: WALL_KEY, amountMsat, paymentHash, timestampSec, expirySec });
        const expiresAt = (timestampSec + expirySec) * 1000;
        this.invoices.set(paymentHash, {
          paymentHash,
          preimage,
          amountMsat,
          receivedMsat: 0n,
          expiresAt,
          state: 'open',
          settleIndex: 0,
        });
        return { bolt11, paymentHash, expiresAt };
      },
      resumeSettlements: (cursor: SettlementCursor) => delivery.setCursor(cursor),
      onSettled: (handler) => {
        const remove = delivery.add(handler);
        if (!subscribed) {
          subscribed = true;
          // lnd's `confirmed_after`: replay every settlement after the committed index
          const after = delivery.committedIndex;
          for (const inv of [...this.invoices.values()].sort((a, b) => a.settleIndex - b.settleIndex))
            if (inv.state === 'settled' && inv.settleIndex > after) delivery.deliver(this.event(inv));
        }
        return remove;
      },
      lookupInvoice: async (hash) => {
        const inv = this.invoices.get(hash);
        if (!inv) throw new Error('InvoiceNotFound');
        return {
          paymentHash: hash,
          state: inv.state,
          amountMsat: inv.amountMsat,
          receivedMsat: inv.receivedMsat,
          expiresAt: inv.expiresAt,
        };
      },
      cancelInvoice: async (hash) => {
        const inv = this.invoices.get(hash);
        if (!inv || inv.state === 'settled') throw new Error('cannot cancel');
        inv.state = 'cancelled';
      },
      signMessage: async (text) => signNodeMessage(text, WALL_KEY).zbase32,
      createHoldInvoice: async ({ paymentHash, amountMsat, expirySec, cltvDeltaBlocks = 80 }) => {
        if (this.holdInvoices.has(paymentHash)) throw new InvoiceAlreadyExists(paymentHash);
        const timestampSec = Math.floor(clock.now() / 1000);
        const bolt11 = makeInvoice({ key: WALL_KEY, amountMsat, paymentHash, timestampSec, expirySec });
        const expiresAt = (timestampSec + expirySec) * 1000;
        const state: HoldInvoiceState = {
          paymentHash,
          phase: 'open',
          amountMsat,
          receivedMsat: 0n,
          expiresAt,
          currentHeight: SCRIPTED_HEIGHT,
        };
        this.holdInvoices.set(paymentHash, { state, cltvDeltaBlocks, bolt11 });
        return { bolt11, paymentHash, expiresAt, cltvDeltaBlocks };
      },
      watchHoldInvoice: (paymentHash, handler) => {
        let set = this.holdWatchers.get(paymentHash);
        if (!set) this.holdWatchers.set(paymentHash, (set = new Set()));
        const watcher = (ev: HoldInvoiceEvent): void => {
          if (!me.closed) handler(ev);
        };
        set.add(watcher);
        // the current state first (a held invoice is reported at once after a restart)
        const now = this.holdInvoices.get(paymentHash)?.state;
        const first = now ? holdEventOf(now) : undefined;
        if (first) queueMicrotask(() => watcher(first));
        return () => set.delete(watcher);
      },
      lookupHoldInvoice: async (paymentHash) => {
        const h = this.holdInvoices.get(paymentHash);
        if (!h) throw new InvoiceNotFound(paymentHash);
        return { ...h.state };
      },
      settleHoldInvoice: async (preimage) => {
        const paymentHash = sha256hex(Buffer.from(preimage, 'hex'));
        const h = this.holdInvoices.get(paymentHash);
        if (!h) throw new InvoiceNotFound(paymentHash);
        if (h.state.phase === 'settled') return;
        if (h.state.phase !== 'held') throw new Error(`hold invoice ${paymentHash} is ${h.state.phase}`);
        h.state = { ...h.state, phase: 'settled', preimage, settledAtMs: clock.now() };
        this.holdEvent(h.state);
      },
      cancelHoldInvoice: async (paymentHash) => {
        const h = this.holdInvoices.get(paymentHash);
        if (!h) throw new InvoiceNotFound(paymentHash);
        if (h.state.phase === 'cancelled') return;
        if (h.state.phase === 'settled') throw new Error(`hold invoice ${paymentHash} is settled`);
        h.state = { ...h.state, phase: 'cancelled', expired: false };
        this.holdEvent(h.state);
      },
      close: async () => {
        me.closed = true;
        delivery.close();
      },
    };
  }
}

/** The watch event a hold invoice's state is reported with (none while it is open). */
function holdEventOf(st: HoldInvoiceState): HoldInvoiceEvent | undefined {
  if (st.phase === 'held')
    return {
      kind: 'held',
      paymentHash: st.paymentHash,
      amountMsat: st.receivedMsat,
      htlcExpiryHeight: st.htlcExpiryHeight ?? SCRIPTED_HEIGHT,
      acceptHeight: st.acceptHeight ?? SCRIPTED_HEIGHT,
      currentHeight: st.currentHeight,
    };
  if (st.phase === 'settled')
    return {
      kind: 'settled',
      paymentHash: st.paymentHash,
      amountMsat: st.receivedMsat,
      preimage: st.preimage ?? '',
      settledAtMs: st.settledAtMs ?? 0,
    };
  if (st.phase === 'cancelled') return { kind: 'cancelled', paymentHash: st.paymentHash, expired: false };
  return undefined;
}

/**
 * The car's node: decodes like an honest lnd and pays by settling at the wall.
 *
 * @param settle the wall's side of a payment: settles the hash and returns the preimage
 * @param paid every hash paid, with its amount (the node's record for `paymentStatus`)
 */
export function scriptedCarNode(
  settle: (paymentHash: string, amountMsat: bigint) => string,
  paid: Map<string, bigint>,
  gate: (paymentHash: string) => Promise<void> = async () => {},
): LightningNode {
  return {
    ...unusedNode('vehicle'),
    getIdentity: async () => ({ pubkey: '02' + '33'.repeat(32), network: 'regtest', synced: true }),
    decodePaymentRequest: async (bolt11) => {
      const d = decodeInvoice(bolt11);
      if (!d.ok) throw new Error(d.error.message);
      const v = d.value;
      return {
        paymentHash: v.paymentHash,
        amountMsat: v.amountMsat,
        payeePubkey: v.payeePubkey,
        paymentSecret: v.paymentSecret,
        minFinalCltvDelta: v.minFinalCltvDelta,
        expiresAtMs: (v.timestampSec + v.expirySec) * 1000,
      };
    },
    pay: async (bolt11): Promise<PaymentResult> => {
      const d = decodeInvoice(bolt11);
      if (!d.ok) throw new Error(d.error.message);
      await gate(d.value.paymentHash);
      const preimage = settle(d.value.paymentHash, d.value.amountMsat);
      paid.set(d.value.paymentHash, d.value.amountMsat);
      return { paymentHash: d.value.paymentHash, preimage, feeMsat: 0n, amountMsat: d.value.amountMsat };
    },
    paymentStatus: async (hash) =>
      paid.has(hash) ? { state: 'succeeded', preimage: '', feeMsat: 0n } : { state: 'unknown' },
  };
}

/** A logger that keeps every line (tests assert on errors and alarms). */
export function memoryLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at =
    (level: string) =>
    (msg: string, fields?: Record<string, unknown>): void =>
      void lines.push(
        `${level} ${msg} ${fields ? JSON.stringify(fields, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) : ''}`,
      );
  return { lines, debug: () => {}, info: at('info'), warn: at('warn'), error: at('error') };
}

/** Options of a rig. */
export interface RigOptions {
  /** the clock's start, ms since the epoch (default: now, whole seconds) */
  startMs?: number;
  /** more `tariff` keys of the wall (flow style, e.g. `maxSuspendSec: 90`) */
  tariff?: string;
  /** extra YAML appended to the wall config */
  wallYaml?: string;
  /** before the car's node pays (n: payments asked so far, from 1): resolve to pay, throw to fail, never settle
   * to leave the payment hanging */
  carPayGate?: (n: number, paymentHash: string) => Promise<void>;
  /** extra YAML appended to the vehicle config's `limits` (flow style, e.g. `targetEnergyWh: 150`) */
  vehicleLimits?: string;
  /**
   * Called after every machine commit of the wall (the transaction that saved the machine state), with its
   * number in this rig (1-based, across restarts); a crash test stops the wall there.
   */
  afterWallCommit?: (n: number) => void;
  /** wrap the wall parts (fault injection) */
  wallParts?: (p: WallParts) => WallParts;
}

/** The rig. */
export class InProcessRig {
  readonly dir = mkdtempSync(join(tmpdir(), 'bc-rig-'));
  readonly clock: ManualClock;
  readonly world: SimWorld;
  readonly cable = new Cable();
  readonly wallNode: ScriptedWallNode;
  readonly paid = new Map<string, bigint>();
  readonly wallLog = memoryLog();
  readonly vehicleLog = memoryLog();
  wall: WallDaemon | null = null;
  private wallLock: StoreLock | null = null;
  vehicle: VehicleDaemon | null = null;
  wallStore: WallStore | null = null;
  vehicleStore: VehicleStore | null = null;

  constructor(private readonly opts: RigOptions = {}) {
    this.clock = new ManualClock(opts.startMs ?? Math.floor(Date.now() / 1000) * 1000);
    this.world = createSimWorld({ clock: this.clock, stepMs: 1000 });
    this.wallNode = new ScriptedWallNode(this.clock);
  }

  /** The wall's YAML (also written to `wallConfigFile` for CLI commands). */
  wallYaml(): string {
    return `
tariff: { priceMsatPerWh: 100, invoiceIntervalSec: 16, minBlockWh: 10, maxBlockWh: 50, depositBlocks: 1${this.opts.tariff ? ', ' + this.opts.tariff : ''} }
lightning: { connectionFile: conn.json, node: wall }
link: { kind: ip, interface: lo, listenAddress: "::1" }
evse: { kind: sim, url: "http://127.0.0.1:1/", maxPowerW: 11000, allowUnsupervised: true }
meter: { kind: sim, url: "http://127.0.0.1:1/", name: wall, pollIntervalMs: 1000 }
store: { path: "${join(this.dir, 'wall.sqlite')}" }
${this.opts.wallYaml ?? 'status: { enabled: false }'}
`;
  }

  /** Path of the wall config file (written on each start). */
  get wallConfigFile(): string {
    return join(this.dir, 'wall.yaml');
  }

  /** Starts (or restarts) the wall daemon on its store in the rig's directory. */
  async startWall(): Promise<WallDaemon> {
    writeFileSync(this.wallConfigFile, this.wallYaml());
    const config = readWallConfig(ConfigReader.fromYaml(this.wallYaml()));
    // held like run-daemon does: a CLI in another process sees a running daemon
    this.wallLock = lockStore(config.store.path);
    const store = WallStore.open(config.store.path, this.clock);
    this.wallStore = store;
    this.countCommits(store);
    let parts: WallParts = {
      config,
      clock: this.clock,
      log: this.wallLog,
      store,
      node: this.wallNode.client(),
      link: this.cable.newWallEnd(),
      evse: this.world.evse,
      meter: this.world.wallMeter,
      nodeClock: this.clock,
    };
    if (this.opts.wallParts) parts = this.opts.wallParts(parts);
    this.wall = await WallDaemon.start(parts);
    return this.wall;
  }

  /** Payments the car's node was asked to make. */
  payRequests = 0;

  /** Number of wall machine commits so far (all starts). */
  wallCommits = 0;

  private countCommits(store: WallStore): void {
    const hook = this.opts.afterWallCommit;
    const tx = store.tx.bind(store);
    const save = store.saveMachineState.bind(store);
    let depth = 0;
    let savedMain = false;
    store.saveMachineState = (slot, json) => {
      if (slot === 'main') savedMain = true;
      save(slot, json);
    };
    store.tx = <T>(fn: () => T): T => {
      depth++;
      let out: T;
      try {
        out = tx(fn);
      } finally {
        depth--;
      }
      if (depth === 0 && savedMain) {
        savedMain = false;
        this.wallCommits++;
        hook?.(this.wallCommits);
      }
      return out;
    };
  }

  /**
   * A crash right after a commit: the wall's runner stops at once (no effect of that step runs), then everything
   * is closed without another write; `startWall` then recovers from the store like a new process.
   */
  crashWall(): Promise<void> {
    const wall = this.wall;
    this.wall = null;
    if (!wall) return Promise.resolve();
    const store = this.wallStore!;
    // a dead process writes nothing more: the database closes now (late answers of the node fail to record)
    store.close();
    return wall.stop().finally(() => {
      this.wallLock?.release();
      this.wallLock = null;
    });
  }

  /** The vehicle's `limits` (flow style): the rig's defaults, overridden key by key by `vehicleLimits`. */
  private vehicleLimits(): string {
    const limits = new Map([
      ['maxPriceMsatPerWh', '150'],
      ['sessionBudgetMsat', '100000000'],
      ['dailyBudgetMsat', '200000000'],
      ['wallBackoffSec', '0'],
    ]);
    for (const kv of (this.opts.vehicleLimits ?? '').split(',')) {
      const [k, v] = kv.split(':').map((x) => x.trim());
      if (k && v) limits.set(k, v);
    }
    return [...limits].map(([k, v]) => `${k}: ${v}`).join(', ');
  }

  /** Starts the vehicle daemon. */
  async startVehicle(): Promise<VehicleDaemon> {
    const config = readVehicleConfig(
      ConfigReader.fromYaml(`
limits: { ${this.vehicleLimits()} }
lightning: { socket: "127.0.0.1:10009", macaroon: admin.macaroon }
link: { kind: ip, peerAddress: "::1" }
meter: { kind: sim, url: "http://127.0.0.1:1/", name: vehicle, pollIntervalMs: 1000 }
status: { enabled: false }
`),
    );
    const store = VehicleStore.open(join(this.dir, 'vehicle.sqlite'), this.clock);
    this.vehicleStore = store;
    this.vehicle = await VehicleDaemon.start({
      config,
      clock: this.clock,
      log: this.vehicleLog,
      store,
      node: scriptedCarNode(
        (hash, amount) => this.wallNode.settle(hash, amount),
        this.paid,
        (hash) => this.opts.carPayGate?.(++this.payRequests, hash) ?? Promise.resolve(),
      ),
      link: this.cable.vehicle,
      meter: this.world.vehicleMeter,
      nodeClock: this.clock,
    });
    return this.vehicle;
  }

  /**
   * Runs the world for `ms` of clock time in `stepMs` steps, letting real I/O callbacks (setImmediate of the
   * cable) run between steps.
   */
  async run(ms: number, stepMs = 100): Promise<void> {
    await runClock(this.clock, ms, stepMs);
  }

  /** Runs until `cond` holds, at most `maxMs` of clock time. */
  async runUntil(what: string, cond: () => boolean, maxMs = 120_000): Promise<void> {
    await runClockUntil(this.clock, what, cond, maxMs);
  }

  async stopWall(): Promise<void> {
    await this.wall?.stop();
    this.wall = null;
    this.wallLock?.release();
    this.wallLock = null;
  }

  async close(): Promise<void> {
    await this.vehicle?.stop().catch(() => {});
    await this.stopWall().catch(() => {});
    this.world.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
