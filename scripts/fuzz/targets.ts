/**
 * Fuzz targets: every parser of hostile input and both session machines, each with a fast-check arbitrary of
 * inputs and a rule for which exceptions are the module's own typed errors. Anything else thrown is a crash.
 * Used by `npm run fuzz` (scripts/fuzz.ts) and by the short pass in `npm test` (test/fuzz/fuzz.test.ts).
 */
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ConfigInvalid, ConfigReader } from '../../daemon/config-reader.js';
import { SlcanParseError } from '../../hardware/can/errors.js';
import { decodeSlcanFrame, SlcanTokenizer } from '../../hardware/can/slcan-codec.js';
import { decodeRapiLine, RapiChecksumMismatch, RapiMalformedLine } from '../../hardware/evse/rapi-frame.js';
import { IsoTpError } from '../../hardware/isotp/errors.js';
import { parseIsoTpPdu } from '../../hardware/isotp/frames.js';
import { LinkError } from '../../hardware/link/errors.js';
import { LengthPrefixedDecoder } from '../../hardware/link/length-prefixed.js';
import { registersToFloat } from '../../hardware/meter/sdm-registers.js';
import {
  decodeBody,
  encodeBody,
  decodeInvoice,
  deserializeState,
  MESSAGE_TYPE_CODES,
  openFrame,
  parseFrame,
  recoverNodeKey,
  sealMessage,
  type ChannelState,
  type CommonEvent,
  type Message,
  type MessageType,
  type SealedMessage,
  buyerChannel,
  buyerKeyed,
  sellerChannel,
  sellerKeyed,
} from '../../protocol/index.js';
import { readVehicleConfig } from '../../vehicle-module/config.js';
import { readWallConfig } from '../../wall-module/config.js';
import { makeInvoice, Sim, WALL_KEY } from '../../test/protocol/harness.js';
import { isoTpFrameData, slcanInputChunks } from '../../test/support/fuzz-arbitraries.js';
import { buildHandshake, sampleMessages } from '../../test/vectors/build.js';

/** One fuzz target. */
export interface FuzzTarget<T> {
  /** Short name (`--only` selects by it). */
  name: string;
  /** What is fuzzed. */
  description: string;
  /** Inputs. */
  arbitrary: fc.Arbitrary<T>;
  /** Feeds one input to the code under test; throws only what `typed` accepts (anything else is a crash). */
  run(input: T): void;
  /** True for the module's own typed errors (a refusal, not a crash). */
  typed(err: unknown): boolean;
}

const never = (): boolean => false;

/** Flips bytes, truncates or extends a valid byte string: inputs near the valid ones. */
function mutatedBytes(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .record({
      seed: fc.nat(),
      flips: fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }), { maxLength: 4 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      tail: fc.uint8Array({ maxLength: 8 }),
    })
    .map(({ seed, flips, cut, tail }) => {
      const base = seeds[seed % seeds.length] as Uint8Array;
      let b = Uint8Array.from(base);
      for (const f of flips) if (b.length > 0) b[f.at % b.length] = (b[f.at % b.length] ?? 0) ^ f.xor;
      if (cut !== undefined) b = b.subarray(0, cut % (b.length + 1));
      return tail.length > 0 && cut === undefined ? Uint8Array.from([...b, ...tail]) : b;
    });
}

// ---- cable protocol: frames, message bodies, the secure channel ----

const handshake = buildHandshake();
const samples = sampleMessages(handshake.vector.sessionId);
const sealedSamples = samples.filter((m) => m.type !== 'hello' && m.type !== 'clearError') as SealedMessage[];

/** Every sample message sealed on the wall→vehicle channel of the test vectors, in counter order. */
function sealedFrames(): Uint8Array[] {
  let ch: ChannelState = handshake.wall;
  return sealedSamples.map((m) => {
    const r = sealMessage(ch, m);
    if (!r.ok) throw new Error(r.error.message);
    ch = r.value.channel;
    return r.value.frame;
  });
}
const SEALED = sealedFrames();
const frameBytes = fc.oneof(fc.uint8Array({ maxLength: 400 }), mutatedBytes(SEALED));

const frameCodec: FuzzTarget<Uint8Array> = {
  name: 'frame',
  description: 'parseFrame: clear and sealed frame headers (protocol/frame.ts)',
  arbitrary: frameBytes,
  run: (bytes) => void parseFrame(bytes),
  typed: never,
};

const messageTypes = Object.keys(MESSAGE_TYPE_CODES) as MessageType[];
const messageBodies: FuzzTarget<{ type: number; body: Uint8Array }> = {
  name: 'messages',
  description: 'decodeBody of every message type (protocol/messages.ts)',
  arbitrary: fc.record({
    type: fc.nat(),
    body: fc.oneof(fc.uint8Array({ maxLength: 600 }), mutatedBytes(samplesBodies())),
  }),
  run: ({ type, body }) => void decodeBody(messageTypes[type % messageTypes.length] as MessageType, body),
  typed: never,
};

/** The encoded body of every sample message (valid inputs to mutate). */
function samplesBodies(): Uint8Array[] {
  return samples.map((m: Message) => {
    const body = encodeBody(m);
    if (!body.ok) throw new Error(body.error.message);
    return body.value;
  });
}

const channelOpen: FuzzTarget<Uint8Array> = {
  name: 'channel',
  description: 'openFrame on the vehicle side of a live secure channel (protocol/channel.ts)',
  arbitrary: frameBytes,
  run: (bytes) => void openFrame(handshake.vehicle, bytes),
  typed: never,
};

// ---- BOLT11 and node signatures ----

const BECH32 = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const validInvoices = [1n, 1000n, 12_000n, 2_100_000_000_000_000_000n].map((amountMsat, i) =>
  makeInvoice({
    key: WALL_KEY,
    amountMsat,
    paymentHash: String(i).repeat(64),
    timestampSec: 1_760_000_000,
    expirySec: 600,
  }),
);
const bolt11Text = fc.oneof(
  fc.string({ maxLength: 600 }),
  fc.string({ unit: fc.constantFrom(...`lnbcrt1${BECH32}`), maxLength: 700 }).map((s) => `lnbcrt${s}`),
  fc
    .record({
      seed: fc.nat(),
      edits: fc.array(fc.record({ at: fc.nat(), ch: fc.constantFrom(...BECH32) }), {
        minLength: 1,
        maxLength: 3,
      }),
      cut: fc.option(fc.nat(), { nil: undefined }),
    })
    .map(({ seed, edits, cut }) => {
      const chars = [...(validInvoices[seed % validInvoices.length] as string)];
      for (const e of edits) chars[e.at % chars.length] = e.ch;
      const s = chars.join('');
      return cut === undefined ? s : s.slice(0, cut % (s.length + 1));
    }),
);
const bolt11Target: FuzzTarget<string> = {
  name: 'bolt11',
  description: 'decodeInvoice: random, bech32-alphabet and mutated valid BOLT11 (protocol/bolt11.ts)',
  arbitrary: bolt11Text,
  run: (text) => void decodeInvoice(text),
  typed: never,
};

const nodeSignature: FuzzTarget<{ text: string; signature: string }> = {
  name: 'nodeSignature',
  description: 'recoverNodeKey: zbase32 / hex node signatures from the peer (protocol/nodeSignature.ts)',
  arbitrary: fc.record({
    text: fc.string({ maxLength: 200 }),
    signature: fc.oneof(
      fc.string({ maxLength: 140 }),
      fc.string({
        unit: fc.constantFrom(...'ybndrfg8ejkmcpqxot1uwisza345h769'),
        minLength: 100,
        maxLength: 110,
      }),
      fc.uint8Array({ minLength: 65, maxLength: 65 }).map((b) => Buffer.from(b).toString('hex')),
    ),
  }),
  run: ({ text, signature }) => void recoverNodeKey(text, signature),
  typed: never,
};

const storedState: FuzzTarget<string> = {
  name: 'storedState',
  description: 'deserializeState: machine state read back from the store (protocol/serialize.ts)',
  arbitrary: fc.oneof(fc.string({ maxLength: 300 }), fc.json({ maxDepth: 4 })),
  run: (text) => void deserializeState(text),
  typed: never,
};

// ---- configuration ----

const configScalar = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.string({ maxLength: 20 }),
  fc.constantFrom('9223372036854775808', '-1', '1.5', '::', 'sim', 'ip', 'can', null),
);
const configKeys = fc.constantFrom(
  'tariff',
  'limits',
  'link',
  'meter',
  'evse',
  'clock',
  'log',
  'store',
  'status',
  'lightning',
  'session',
  'kind',
  'port',
  'interface',
  'listenAddress',
  'peerAddress',
  'priceMsatPerWh',
  'maxPriceMsatPerWh',
  'minBlockWh',
  'maxBlockWh',
  'speed',
  'file',
  'path',
  'url',
  'name',
  'socket',
  'connectionFile',
  'node',
  'invoiceIntervalSec',
  'sessionBudgetMsat',
  'dailyBudgetMsat',
  'ocpp',
  'webhook',
  'notifications',
);
const configTree: fc.Arbitrary<unknown> = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    configScalar,
    fc.dictionary(configKeys, tie('node'), { maxKeys: 6 }),
    fc.array(tie('node'), { maxLength: 3 }),
  ),
})).node;
const yamlText = fc.oneof(
  configTree.map((t) => stringify(t)),
  fc.string({ unit: fc.constantFrom(...'ab:{}[]&*!|>-?#%@`"\' \n\t01.,<='), maxLength: 200 }),
  fc.string({ maxLength: 200 }),
);
const configTarget: FuzzTarget<string> = {
  name: 'config',
  description: 'the wall and vehicle config readers on random YAML (daemon/config-reader.ts)',
  arbitrary: yamlText,
  run: (text) => {
    for (const read of [readWallConfig, readVehicleConfig]) {
      try {
        read(ConfigReader.fromYaml(text));
      } catch (err) {
        if (!(err instanceof ConfigInvalid)) throw err;
      }
    }
  },
  typed: (err) => err instanceof ConfigInvalid,
};

// ---- hardware codecs ----

const slcanTarget: FuzzTarget<(Uint8Array | string)[]> = {
  name: 'slcan',
  description: 'SLCAN tokenizer and frame decoder on adapter output (hardware/can/slcan-codec.ts)',
  arbitrary: slcanInputChunks,
  run: (chunks) => {
    const tok = new SlcanTokenizer();
    for (const c of chunks) {
      for (const t of tok.push(typeof c === 'string' ? Buffer.from(c, 'latin1') : c)) {
        if (t.kind !== 'frame') continue;
        try {
          decodeSlcanFrame(t.line);
        } catch (err) {
          if (!(err instanceof SlcanParseError)) throw err;
        }
      }
    }
  },
  typed: (err) => err instanceof SlcanParseError,
};

const isoTpTarget: FuzzTarget<Uint8Array> = {
  name: 'isotp',
  description: 'parseIsoTpPdu on CAN frame data (hardware/isotp/frames.ts)',
  arbitrary: isoTpFrameData,
  run: (data) => void parseIsoTpPdu(data),
  typed: (err) => err instanceof IsoTpError,
};

const rapiTarget: FuzzTarget<string> = {
  name: 'rapi',
  description: 'decodeRapiLine on OpenEVSE serial lines (hardware/evse/rapi-frame.ts)',
  arbitrary: fc.oneof(
    fc.string({ maxLength: 80 }),
    fc
      .string({ unit: fc.constantFrom(...'$OKNKGSATFE 0123456789abcdefABCDEF^*\r-.'), maxLength: 40 })
      .map((s) => `$${s}`),
  ),
  run: (line) => void decodeRapiLine(line),
  typed: (err) => err instanceof RapiChecksumMismatch || err instanceof RapiMalformedLine,
};

const lengthPrefixedTarget: FuzzTarget<{ max: number; chunks: Uint8Array[] }> = {
  name: 'ipStream',
  description: 'the IP link stream decoder (hardware/link/length-prefixed.ts)',
  arbitrary: fc.record({
    max: fc.integer({ min: 1, max: 70_000 }),
    chunks: fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 12 }),
  }),
  run: ({ max, chunks }) => {
    const d = new LengthPrefixedDecoder(max);
    for (const c of chunks)
      for (const m of d.push(c)) if (m.length > max) throw new Error('oversized message');
  },
  typed: (err) => err instanceof LinkError,
};

const sdmTarget: FuzzTarget<[number, number]> = {
  name: 'sdm',
  description: 'SDM meter register decoding: any two 16-bit registers (hardware/meter/sdm-registers.ts)',
  arbitrary: fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff })),
  run: ([hi, lo]) => {
    const v = registersToFloat(hi, lo);
    if (typeof v !== 'number') throw new Error('not a number');
  },
  typed: never,
};

// ---- the session machines, driven through the protocol test harness ----

/** Sessions at several depths, built once: fresh, handshaking, charging, paused for payment, stopping, ended. */
function machineSnapshots(): Sim[] {
  const stages: ((s: Sim) => void)[] = [
    () => {},
    (s) => s.plugBoth(),
    (s) => s.plug(),
    (s) => {
      s.plug();
      s.advance(20_000);
    },
    (s) => {
      s.plug();
      s.advance(10_000);
      s.autoPay = false;
      s.advance(15_000);
    },
    (s) => {
      s.plug();
      s.advance(30_000);
      s.stepBuyer({ type: 'stopRequest', atMs: s.now, reason: 0x0002 });
    },
    (s) => {
      s.plug();
      s.advance(10_000);
      s.stepSeller({ type: 'stopRequest', atMs: s.now, reason: 0x0002 });
      s.run();
    },
  ];
  return stages.map((stage) => {
    const s = new Sim();
    stage(s);
    s.sellerEffects = [];
    s.buyerEffects = [];
    s.deliveredToBuyer = [];
    s.deliveredToSeller = [];
    s.sentBySeller = s.sentBySeller.slice(-24);
    s.sentByBuyer = s.sentByBuyer.slice(-24);
    return s;
  });
}

/** A fresh copy of a snapshot (states are values; the copy shares nothing with the snapshot). */
function cloneSim(s: Sim): Sim {
  return Object.assign(Object.create(Sim.prototype) as Sim, structuredClone({ ...s }));
}

const anyInt = fc.oneof(
  fc.integer({ min: -10, max: 100_000 }),
  fc.constantFrom(0, 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53, Number.MAX_SAFE_INTEGER),
);
const anyBig = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.constantFrom(0n, 1n, 999n, 1000n, 1n << 63n, (1n << 64n) - 1n),
);
const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
const anyHash = fc.oneof(fc.constant('known'), hex64);
/** A sealed message: a sample of each type with some fields replaced by random values of the same kind. */
const hostileMessage = fc.record({
  sample: fc.nat(),
  edits: fc.array(
    fc.record({
      field: fc.nat(),
      int: anyInt,
      big: anyBig,
      str: fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom(...validInvoices)),
    }),
    { maxLength: 3 },
  ),
});
type HostileMessage = typeof hostileMessage extends fc.Arbitrary<infer T> ? T : never;

function buildMessage(h: HostileMessage): SealedMessage {
  const m = structuredClone(sealedSamples[h.sample % sealedSamples.length]) as unknown as Record<
    string,
    unknown
  >;
  const fields = Object.keys(m).filter((k) => k !== 'type');
  for (const e of h.edits) {
    const k = fields[e.field % fields.length] as string;
    const v = m[k];
    m[k] = typeof v === 'number' ? e.int : typeof v === 'bigint' ? e.big : typeof v === 'string' ? e.str : v;
  }
  return m as unknown as SealedMessage;
}

const machineEvent = fc.oneof(
  fc.record({ k: fc.constant('run' as const), steps: fc.integer({ min: 1, max: 30 }) }),
  fc.record({ k: fc.constant('advance' as const), ms: fc.integer({ min: 1000, max: 8000 }) }),
  fc.record({ k: fc.constant('frame' as const), toSeller: fc.boolean(), bytes: frameBytes }),
  fc.record({ k: fc.constant('replay' as const), toSeller: fc.boolean(), back: fc.nat() }),
  fc.record({ k: fc.constant('sealed' as const), toSeller: fc.boolean(), message: hostileMessage }),
  fc.record({
    k: fc.constant('meter' as const),
    toSeller: fc.boolean(),
    energyWh: fc.integer({ min: 0, max: 1e9 }),
    powerW: fc.integer({ min: 0, max: 400_000 }),
  }),
  fc.record({
    k: fc.constant('tick' as const),
    toSeller: fc.boolean(),
    dtMs: fc.integer({ min: 0, max: 700_000 }),
  }),
  fc.record({
    k: fc.constantFrom('linkUp' as const, 'linkDown' as const, 'unplug' as const),
    toSeller: fc.boolean(),
  }),
  fc.record({
    k: fc.constant('plug' as const),
    toSeller: fc.boolean(),
    entropy: hex64,
  }),
  fc.record({
    k: fc.constant('stop' as const),
    toSeller: fc.boolean(),
    reason: fc.integer({ min: 0, max: 0xffff }),
  }),
  fc.record({
    k: fc.constant('signature' as const),
    toSeller: fc.boolean(),
    text: fc.string({ maxLength: 30 }),
    signature: fc.string({ maxLength: 110 }),
  }),
  fc.record({ k: fc.constant('settled' as const), hash: anyHash, amountMsat: anyBig }),
  fc.record({ k: fc.constant('expired' as const), hash: anyHash }),
  fc.record({
    k: fc.constant('created' as const),
    seq: anyInt,
    bolt11: fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom(...validInvoices)),
    hash: anyHash,
  }),
  fc.record({ k: fc.constant('createFailed' as const), seq: anyInt }),
  fc.record({ k: fc.constant('renew' as const), price: anyBig, afterWh: anyInt }),
  fc.record({ k: fc.constant('paymentResult' as const), hash: anyHash, ok: fc.boolean(), fee: anyBig }),
);
type MachineEvent = typeof machineEvent extends fc.Arbitrary<infer T> ? T : never;

let snapshots: Sim[] | undefined;

/** Applies one hostile event to the simulated pair (the machines see only what a shell could deliver). */
function applyEvent(s: Sim, e: MachineEvent): void {
  const at = s.now;
  const knownHash = (h: string): string =>
    h === 'known' ? (s.nodeInvoices.at(-1)?.paymentHash ?? '00'.repeat(32)) : h;
  const to = (toSeller: boolean, ev: CommonEvent): void =>
    void (toSeller ? s.stepSeller(ev) : s.stepBuyer(ev));
  switch (e.k) {
    case 'run':
      // deliver at most `steps` queued frames/events (the harness reports the rest as "did not settle": that is
      // the bound, not a fault; `advance` runs to quiescence, so a livelock still shows there)
      try {
        return s.run(e.steps);
      } catch (err) {
        if ((err as Error).message === 'simulation did not settle') return;
        throw err;
      }
    case 'advance':
      return s.advance(e.ms);
    case 'frame':
      return to(e.toSeller, { type: 'frame', atMs: at, bytes: e.bytes });
    case 'replay': {
      const from = e.toSeller ? s.sentByBuyer : s.sentBySeller;
      const bytes = from[from.length - 1 - (e.back % Math.max(1, from.length))];
      return bytes ? to(e.toSeller, { type: 'frame', atMs: at, bytes }) : undefined;
    }
    case 'sealed': {
      // sealed with the sending side's own channel, so it authenticates: the machine must judge the content
      const senderChannel = e.toSeller ? buyerChannel(s.buyer) : sellerChannel(s.seller);
      if (senderChannel === null) return;
      let sealed;
      try {
        sealed = sealMessage(senderChannel, buildMessage(e.message));
      } catch {
        return; // a message the encoder cannot even represent: no peer could send it
      }
      if (!sealed.ok) return;
      if (e.toSeller) {
        if (buyerKeyed(s.buyer)) s.buyer = { ...s.buyer, channel: sealed.value.channel };
      } else if (sellerKeyed(s.seller)) s.seller = { ...s.seller, channel: sealed.value.channel };
      return to(e.toSeller, { type: 'frame', atMs: at, bytes: sealed.value.frame });
    }
    case 'meter':
      return to(e.toSeller, {
        type: 'meter',
        atMs: at,
        energyWh: e.energyWh,
        powerW: e.powerW,
        voltageV: 230,
        currentA: e.powerW / 230,
      });
    case 'tick':
      s.now += e.dtMs;
      return to(e.toSeller, { type: 'tick', atMs: s.now });
    case 'linkUp':
    case 'linkDown':
    case 'unplug':
      return to(e.toSeller, { type: e.k, atMs: at });
    case 'plug':
      return to(e.toSeller, { type: 'plug', atMs: at, entropyHex: e.entropy });
    case 'stop':
      return to(e.toSeller, { type: 'stopRequest', atMs: at, reason: e.reason as never });
    case 'signature':
      return to(e.toSeller, { type: 'nodeSignature', atMs: at, text: e.text, signature: e.signature });
    case 'settled':
      return void s.stepSeller({
        type: 'invoiceSettled',
        atMs: at,
        paymentHash: knownHash(e.hash),
        amountMsat: e.amountMsat,
      });
    case 'expired':
      return void s.stepSeller({ type: 'invoiceExpired', atMs: at, paymentHash: knownHash(e.hash) });
    case 'created':
      return void s.stepSeller({
        type: 'invoiceCreated',
        atMs: at,
        seq: e.seq,
        bolt11: e.bolt11,
        paymentHash: knownHash(e.hash),
      });
    case 'createFailed':
      return void s.stepSeller({ type: 'invoiceCreateFailed', atMs: at, seq: e.seq, error: 'node down' });
    case 'renew':
      return void s.stepSeller({
        type: 'renewRequest',
        atMs: at,
        priceMsatPerWh: e.price,
        afterWh: e.afterWh,
      });
    case 'paymentResult':
      return void s.stepBuyer({
        type: 'paymentResult',
        atMs: at,
        paymentHash: knownHash(e.hash),
        ok: e.ok,
        ...(e.ok ? { preimage: '00'.repeat(32), feeMsat: e.fee } : { error: 'failed' }),
      });
  }
}

const machinesTarget: FuzzTarget<{ snapshot: number; events: MachineEvent[] }> = {
  name: 'machines',
  description:
    'seller and buyer steps with random events (hostile frames, replays, authenticated hostile messages, ' +
    'node and meter events) from sessions at every depth (protocol/seller.ts, protocol/buyer.ts)',
  arbitrary: fc.record({
    snapshot: fc.nat(),
    events: fc.array(machineEvent, { minLength: 1, maxLength: 10 }),
  }),
  run: ({ snapshot, events }) => {
    snapshots ??= machineSnapshots();
    const s = cloneSim(snapshots[snapshot % snapshots.length] as Sim);
    for (const e of events) {
      s.now += 250;
      applyEvent(s, e);
    }
  },
  typed: never,
};

/** Every target, in the order the runner reports them. */
export const FUZZ_TARGETS: readonly FuzzTarget<never>[] = [
  frameCodec,
  messageBodies,
  channelOpen,
  bolt11Target,
  nodeSignature,
  storedState,
  configTarget,
  slcanTarget,
  isoTpTarget,
  rapiTarget,
  lengthPrefixedTarget,
  sdmTarget,
  machinesTarget,
] as unknown as readonly FuzzTarget<never>[];

/** Result of fuzzing one target. */
export interface FuzzResult {
  target: string;
  inputs: number;
  seconds: number;
  inputsPerSec: number;
  /** The first crash: the exception and the (shrunk) input that causes it. */
  crash?: { error: string; stack?: string; input: string };
}

/**
 * Runs `inputs` random inputs through one target. A crash stops the target and is shrunk by fast-check to a
 * small input.
 * @param target the target
 * @param inputs how many inputs
 * @param seed fast-check seed (reproducible runs)
 * @returns figures and the crash, if any
 */
export function fuzzTarget(target: FuzzTarget<never>, inputs: number, seed: number): FuzzResult {
  const t = target as unknown as FuzzTarget<unknown>;
  const started = performance.now();
  const details = fc.check(
    fc.property(t.arbitrary, (input) => {
      try {
        t.run(input);
      } catch (err) {
        if (!t.typed(err)) throw err;
      }
    }),
    { numRuns: inputs, seed, endOnFailure: false },
  );
  const seconds = (performance.now() - started) / 1000;
  const result: FuzzResult = {
    target: t.name,
    inputs: details.numRuns,
    seconds: Math.round(seconds * 1000) / 1000,
    inputsPerSec: Math.round(details.numRuns / Math.max(seconds, 1e-6)),
  };
  if (details.failed) {
    const err = details.errorInstance as Error | undefined;
    result.crash = {
      error: err ? `${err.name}: ${err.message}` : 'failed',
      stack: err?.stack,
      input: fc.stringify(details.counterexample),
    };
  }
  return result;
}
