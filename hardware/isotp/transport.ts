/**
 * `IsoTpTransport`: one ISO 15765-2 endpoint (normal addressing) over any {@link CanBus}. It sends messages on
 * `txId` and receives on `rxId`; flow control for our sends arrives on `rxId`, and the flow control we send for
 * receptions goes out on `txId`. Sending and receiving are independent (full duplex); sends are queued and run
 * one at a time.
 *
 * Events: `message(bytes)` for each complete message; `error(err)` for reception problems (malformed frames,
 * wrong sequence, N_Cr timeout, oversized messages, interrupted receptions) — emitted only when observed, so
 * hostile input can never throw out of this layer. Send failures reject the `send()` promise instead.
 *
 * All timing (N_As, N_Bs, N_Cr, STmin) runs on the injected {@link Clock}.
 */
import { EventEmitter } from 'node:events';
import { emitErrorIfObserved, type CanBus } from '../can/bus.js';
import { canFrame, type CanFrame } from '../can/frame.js';
import { SystemClock, type Clock, type TimerHandle } from '../clock.js';
import {
  IsoTpClosed,
  IsoTpError,
  IsoTpInvalidFlowStatus,
  IsoTpInvalidLength,
  IsoTpMalformedFrame,
  IsoTpMessageTooLong,
  IsoTpOverflow,
  IsoTpReceptionInterrupted,
  IsoTpTimeout,
  IsoTpTransmitFailed,
  IsoTpWaitLimitExceeded,
  IsoTpWrongSequence,
  type IsoTpTimer,
} from './errors.js';
import {
  encodeConsecutiveFrame,
  encodeFirstFrame,
  encodeFlowControl,
  encodeSingleFrame,
  firstFrameCapacity,
  FlowStatus,
  MAX_ISOTP_LENGTH,
  padFrame,
  parseIsoTpPdu,
  singleFrameCapacity,
  stMinToUs,
  usToStMin,
  VALID_TX_DL,
  type IsoTpPdu,
} from './frames.js';

/** Options of an {@link IsoTpTransport}. Defaults favour throughput on a dedicated point-to-point bus. */
export interface IsoTpOptions {
  /** CAN id we transmit on (our data and our flow control). */
  txId: number;
  /** CAN id we receive on (peer data and peer flow control). */
  rxId: number;
  /** 29-bit identifiers; default false. */
  extendedIds?: boolean;
  /** Default SystemClock. */
  clock?: Clock;
  /** Transmit data length: 8 (classic CAN, default) or 12, 16, 20, 24, 32, 48, 64 (CAN FD frames). */
  txDl?: number;
  /** Set the CAN FD bit-rate switch on our FD frames; default false. */
  fdBitrateSwitch?: boolean;
  /** Padding byte for our frames, or null for none; default 0xCC. Received frames may be padded or not. */
  padding?: number | null;
  /** Block size we grant the sender in our flow control (0 = all remaining frames); default 0. */
  blockSize?: number;
  /** Separation time we ask the sender for, in µs (rounded up to an STmin code); default 0. */
  stMinUs?: number;
  /** Ignore the peer's STmin and wait at least this many µs between our consecutive frames; default unset. */
  txStMinOverrideUs?: number;
  /**
   * CFs handed to the bus before the first completes when STmin is 0 (1 = strictly one at a time); default 16,
   * as many as `SlcanBus` lets an adapter buffer (`maxTxBacklogFrames`), so one serial round trip of delay (a busy
   * machine, a USB frame) never leaves the bus idle.
   */
  txWindowFrames?: number;
  /** N_As: max ms for the bus to accept one of our frames; default 1000. */
  nAsMs?: number;
  /** N_Bs: max ms to wait for a flow control frame; default 1000. */
  nBsMs?: number;
  /** N_Cr: max ms between consecutive frames we receive; default 1000. */
  nCrMs?: number;
  /** WFTmax: max consecutive WAIT flow controls accepted before aborting a send; default 10. */
  wftMax?: number;
  /** Largest message we accept or send, bytes; default 65 536. Larger incoming First Frames get OVFLW. */
  maxMessageBytes?: number;
}

/** Event map of {@link IsoTpTransport}. */
export interface IsoTpEvents {
  message: [bytes: Uint8Array];
  error: [error: IsoTpError];
}

interface FlowWaiter {
  resolve: (fc: { blockSize: number; stMinRaw: number }) => void;
  reject: (err: Error) => void;
  timer: TimerHandle | undefined;
  waits: number;
  done: boolean;
  /** The outcome, kept for an `armFlowControl` that attaches after the flow control already arrived. */
  result?: { blockSize: number; stMinRaw: number } | Error;
}

interface Reception {
  buffer: Uint8Array;
  received: number;
  nextSequence: number;
  rxDl: number;
  framesInBlock: number;
  timer: TimerHandle | undefined;
}

export class IsoTpTransport extends EventEmitter<IsoTpEvents> {
  readonly txId: number;
  readonly rxId: number;
  private readonly extendedIds: boolean;
  private readonly clock: Clock;
  private readonly txDl: number;
  private readonly brs: boolean;
  private readonly padding: number | null;
  private readonly blockSize: number;
  private readonly stMinRaw: number;
  private readonly txStMinOverrideUs: number | undefined;
  private readonly nAsMs: number;
  private readonly txWindowFrames: number;
  private readonly nBsMs: number;
  private readonly nCrMs: number;
  private readonly wftMax: number;
  readonly maxMessageBytes: number;
  private txChain: Promise<void> = Promise.resolve();
  private flowWaiter: FlowWaiter | undefined;
  private rx: Reception | undefined;
  private closed = false;
  private readonly onFrame = (frame: CanFrame): void => this.handleFrame(frame);
  private readonly pendingTimers = new Set<TimerHandle>();
  private readonly closeWaiters = new Set<(err: Error) => void>();

  /**
   * Attaches to `bus` (which may be opened later) and starts listening on `rxId`.
   *
   * @param bus any CanBus
   * @param options ids, timing and flow-control settings; see {@link IsoTpOptions}
   * @throws RangeError for an invalid TX_DL, block size, padding byte or maximum length
   */
  constructor(
    private readonly bus: CanBus,
    options: IsoTpOptions,
  ) {
    super();
    this.txId = options.txId;
    this.rxId = options.rxId;
    this.extendedIds = options.extendedIds ?? false;
    this.clock = options.clock ?? new SystemClock();
    this.txDl = options.txDl ?? 8;
    if (!VALID_TX_DL.includes(this.txDl))
      throw new RangeError(`TX_DL ${this.txDl} is not one of ${VALID_TX_DL}`);
    this.brs = options.fdBitrateSwitch ?? false;
    this.padding = options.padding === undefined ? 0xcc : options.padding;
    if (
      this.padding !== null &&
      !(Number.isInteger(this.padding) && this.padding >= 0 && this.padding <= 255)
    )
      throw new RangeError(`padding byte ${this.padding} out of range`);
    this.blockSize = options.blockSize ?? 0;
    if (!(Number.isInteger(this.blockSize) && this.blockSize >= 0 && this.blockSize <= 255))
      throw new RangeError(`block size ${this.blockSize} out of range 0..255`);
    this.stMinRaw = usToStMin(options.stMinUs ?? 0);
    this.txStMinOverrideUs = options.txStMinOverrideUs;
    this.nAsMs = options.nAsMs ?? 1000;
    this.txWindowFrames = Math.max(1, options.txWindowFrames ?? 16);
    this.nBsMs = options.nBsMs ?? 1000;
    this.nCrMs = options.nCrMs ?? 1000;
    this.wftMax = options.wftMax ?? 10;
    this.maxMessageBytes = options.maxMessageBytes ?? 65_536;
    if (!(this.maxMessageBytes >= 1 && this.maxMessageBytes <= MAX_ISOTP_LENGTH))
      throw new RangeError(`maxMessageBytes ${this.maxMessageBytes} out of range`);
    bus.on('frame', this.onFrame);
  }

  /** Bytes allocated for the reception in progress (0 when idle); never above `maxMessageBytes`. */
  get bufferedBytes(): number {
    return this.rx?.buffer.length ?? 0;
  }

  /** True while a multi-frame reception is in progress. */
  get receiving(): boolean {
    return this.rx !== undefined;
  }

  /**
   * Sends one message; queued behind earlier sends.
   *
   * @param payload 1..maxMessageBytes bytes
   * @returns resolves when the last frame has been accepted by the bus
   * @throws IsoTpInvalidLength, IsoTpTimeout (N_As, N_Bs), IsoTpOverflow, IsoTpWaitLimitExceeded,
   *   IsoTpInvalidFlowStatus, IsoTpTransmitFailed (bus error), IsoTpClosed
   */
  send(payload: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new IsoTpClosed('ISO-TP endpoint is closed'));
    if (payload.length === 0) return Promise.reject(new IsoTpInvalidLength('cannot send an empty message'));
    if (payload.length > this.maxMessageBytes)
      return Promise.reject(
        new IsoTpInvalidLength(
          `message of ${payload.length} bytes exceeds the maximum of ${this.maxMessageBytes}`,
        ),
      );
    const copy = Uint8Array.from(payload);
    const run = this.txChain.then(() => this.transmit(copy));
    this.txChain = run.catch(() => undefined);
    return run;
  }

  /** Detaches from the bus, cancels timers and aborts pending sends with IsoTpClosed. Does not close the bus. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.bus.off('frame', this.onFrame);
    this.abortReception();
    const err = new IsoTpClosed('ISO-TP endpoint closed');
    this.failFlowWaiter(err);
    for (const t of this.pendingTimers) t.cancel();
    this.pendingTimers.clear();
    for (const reject of this.closeWaiters) reject(err);
    this.closeWaiters.clear();
  }

  // ---- sending ----

  private async transmit(payload: Uint8Array): Promise<void> {
    if (this.closed) throw new IsoTpClosed('ISO-TP endpoint is closed');
    const length = payload.length;
    if (length <= singleFrameCapacity(this.txDl)) {
      await this.sendFrame(encodeSingleFrame(payload));
      return;
    }
    let offset = firstFrameCapacity(length, this.txDl);
    let flow = this.expectFlowControl();
    await this.sendFrame(encodeFirstFrame(length, payload.subarray(0, offset)), flow);
    let sequence = 1;
    const cfCapacity = this.txDl - 1;
    while (offset < length) {
      const fc = await this.armFlowControl(flow);
      const gapUs = this.txStMinOverrideUs ?? stMinToUs(fc.stMinRaw);
      let inBlock = 0;
      // With no separation time, up to `txWindowFrames` CFs are handed to the bus before the first completes
      // (adapters queue them in order); this hides the serial round trip of each adapter ack.
      const inFlight: Promise<void>[] = [];
      while (offset < length && (fc.blockSize === 0 || inBlock < fc.blockSize)) {
        if (inBlock > 0 && gapUs > 0) await this.sleep(gapUs / 1000);
        const chunk = payload.subarray(offset, offset + cfCapacity);
        offset += chunk.length;
        inBlock++;
        const blockEnds = offset < length && fc.blockSize !== 0 && inBlock === fc.blockSize;
        const frame = encodeConsecutiveFrame(sequence, chunk);
        sequence = (sequence + 1) & 0x0f;
        if (gapUs === 0 && !blockEnds && offset < length && this.txWindowFrames > 1) {
          const pending = this.sendFrame(frame);
          pending.catch(() => undefined);
          inFlight.push(pending);
          if (inFlight.length >= this.txWindowFrames) await inFlight.shift();
          continue;
        }
        await Promise.all(inFlight.splice(0));
        if (blockEnds) flow = this.expectFlowControl();
        await this.sendFrame(frame, blockEnds ? flow : undefined);
      }
      await Promise.all(inFlight.splice(0));
    }
  }

  /** Sends one frame within N_As. If it fails, a flow-control waiter created for it is discarded. */
  private async sendFrame(data: Uint8Array, flowFor?: FlowWaiter): Promise<void> {
    const frame = canFrame({
      id: this.txId,
      extended: this.extendedIds,
      fd: this.txDl > 8,
      brs: this.txDl > 8 && this.brs,
      data: padFrame(data, this.txDl, this.padding),
    });
    try {
      await this.withTimeout(this.bus.send(frame), 'N_As', this.nAsMs);
    } catch (err) {
      if (flowFor && this.flowWaiter === flowFor) this.flowWaiter = undefined;
      if (err instanceof IsoTpError) throw err;
      throw new IsoTpTransmitFailed(`CAN bus refused an ISO-TP frame: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** Registers interest in the next flow control before the frame that solicits it is sent. */
  private expectFlowControl(): FlowWaiter {
    const waiter: FlowWaiter = {
      resolve: () => undefined,
      reject: () => undefined,
      timer: undefined,
      waits: 0,
      done: false,
    };
    this.flowWaiter = waiter;
    return waiter;
  }

  /** Waits (within N_Bs, restarted by each WAIT) for the flow control registered by `expectFlowControl`. */
  private armFlowControl(waiter: FlowWaiter): Promise<{ blockSize: number; stMinRaw: number }> {
    return new Promise((resolve, reject) => {
      const early = waiter.result;
      if (early instanceof Error) return reject(early);
      if (early) return resolve(early);
      if (this.closed) return reject(new IsoTpClosed('ISO-TP endpoint closed'));
      waiter.resolve = resolve;
      waiter.reject = reject;
      this.startFlowTimer(waiter);
    });
  }

  private startFlowTimer(waiter: FlowWaiter): void {
    waiter.timer?.cancel();
    waiter.timer = this.clock.setTimer(this.nBsMs, () => {
      this.settleFlow(waiter, new IsoTpTimeout('N_Bs', this.nBsMs));
    });
  }

  private settleFlow(waiter: FlowWaiter, result: { blockSize: number; stMinRaw: number } | Error): void {
    if (waiter.done) return;
    waiter.done = true;
    waiter.timer?.cancel();
    if (this.flowWaiter === waiter) this.flowWaiter = undefined;
    // The result may arrive before armFlowControl attached its callbacks (frame ack after FC).
    waiter.result = result;
    if (result instanceof Error) waiter.reject(result);
    else waiter.resolve(result);
  }

  private failFlowWaiter(err: Error): void {
    if (this.flowWaiter) this.settleFlow(this.flowWaiter, err);
  }

  private onFlowControl(pdu: Extract<IsoTpPdu, { type: 'flow' }>): void {
    const waiter = this.flowWaiter;
    if (!waiter) return; // unexpected FC: ignored (ISO 15765-2 9.8.3)
    switch (pdu.status) {
      case FlowStatus.ContinueToSend:
        return this.settleFlow(waiter, { blockSize: pdu.blockSize, stMinRaw: pdu.stMinRaw });
      case FlowStatus.Wait:
        waiter.waits++;
        if (waiter.waits > this.wftMax)
          return this.settleFlow(
            waiter,
            new IsoTpWaitLimitExceeded(`receiver sent more than WFTmax=${this.wftMax} WAIT flow controls`),
          );
        if (waiter.timer) this.startFlowTimer(waiter);
        return;
      case FlowStatus.Overflow:
        return this.settleFlow(
          waiter,
          new IsoTpOverflow('receiver reported overflow (message too long for it)'),
        );
      default:
        return this.settleFlow(waiter, new IsoTpInvalidFlowStatus(`reserved flow status ${pdu.status}`));
    }
  }

  // ---- receiving ----

  private handleFrame(frame: CanFrame): void {
    if (this.closed || frame.id !== this.rxId || frame.extended !== this.extendedIds || frame.rtr) return;
    let pdu: IsoTpPdu;
    try {
      pdu = parseIsoTpPdu(frame.data);
    } catch (err) {
      if (this.rx && (frame.data[0] ?? 0) >> 4 === 2) this.abortReception();
      emitErrorIfObserved(this, err as IsoTpError);
      return;
    }
    switch (pdu.type) {
      case 'flow':
        return this.onFlowControl(pdu);
      case 'single':
        if (this.rx) {
          this.abortReception();
          emitErrorIfObserved(this, new IsoTpReceptionInterrupted('a Single Frame interrupted a reception'));
        }
        if (pdu.payload.length > this.maxMessageBytes) {
          emitErrorIfObserved(this, new IsoTpMessageTooLong(pdu.payload.length, this.maxMessageBytes));
          return;
        }
        this.emit('message', pdu.payload);
        return;
      case 'first':
        return this.onFirstFrame(pdu, frame.data.length);
      case 'consecutive':
        return this.onConsecutiveFrame(pdu);
    }
  }

  private onFirstFrame(pdu: Extract<IsoTpPdu, { type: 'first' }>, rxDl: number): void {
    if (this.rx) {
      this.abortReception();
      emitErrorIfObserved(this, new IsoTpReceptionInterrupted('a new First Frame restarted reception'));
    }
    if (pdu.length > this.maxMessageBytes) {
      this.sendFlowControl(FlowStatus.Overflow, 0, 0);
      emitErrorIfObserved(this, new IsoTpMessageTooLong(pdu.length, this.maxMessageBytes));
      return;
    }
    const buffer = new Uint8Array(pdu.length);
    const first = pdu.payload.subarray(0, pdu.length);
    buffer.set(first);
    this.rx = { buffer, received: first.length, nextSequence: 1, rxDl, framesInBlock: 0, timer: undefined };
    this.sendFlowControl(FlowStatus.ContinueToSend, this.blockSize, this.stMinRaw);
    this.armReceiveTimer();
  }

  private onConsecutiveFrame(pdu: Extract<IsoTpPdu, { type: 'consecutive' }>): void {
    const rx = this.rx;
    if (!rx) return; // unexpected CF: ignored
    if (pdu.sequence !== rx.nextSequence) {
      const expected = rx.nextSequence;
      this.abortReception();
      emitErrorIfObserved(this, new IsoTpWrongSequence(expected, pdu.sequence));
      return;
    }
    const remaining = rx.buffer.length - rx.received;
    const want = Math.min(remaining, rx.rxDl - 1);
    if (pdu.payload.length < want) {
      this.abortReception();
      emitErrorIfObserved(
        this,
        new IsoTpMalformedFrame(`consecutive frame carries ${pdu.payload.length} bytes, expected ${want}`),
      );
      return;
    }
    rx.buffer.set(pdu.payload.subarray(0, want), rx.received);
    rx.received += want;
    rx.nextSequence = (rx.nextSequence + 1) & 0x0f;
    if (rx.received === rx.buffer.length) {
      const message = rx.buffer;
      this.abortReception();
      this.emit('message', message);
      return;
    }
    rx.framesInBlock++;
    if (this.blockSize !== 0 && rx.framesInBlock === this.blockSize) {
      rx.framesInBlock = 0;
      this.sendFlowControl(FlowStatus.ContinueToSend, this.blockSize, this.stMinRaw);
    }
    this.armReceiveTimer();
  }

  private armReceiveTimer(): void {
    const rx = this.rx;
    if (!rx) return;
    rx.timer?.cancel();
    rx.timer = this.clock.setTimer(this.nCrMs, () => {
      if (this.rx !== rx) return;
      this.abortReception();
      emitErrorIfObserved(this, new IsoTpTimeout('N_Cr', this.nCrMs));
    });
  }

  private abortReception(): void {
    this.rx?.timer?.cancel();
    this.rx = undefined;
  }

  private sendFlowControl(status: number, blockSize: number, stMinRaw: number): void {
    const frame = canFrame({
      id: this.txId,
      extended: this.extendedIds,
      fd: this.txDl > 8,
      brs: this.txDl > 8 && this.brs,
      data: padFrame(encodeFlowControl(status, blockSize, stMinRaw), this.txDl, this.padding),
    });
    this.bus.send(frame).catch((err: unknown) => {
      this.abortReception();
      emitErrorIfObserved(
        this,
        new IsoTpTransmitFailed(`could not send flow control: ${(err as Error).message}`, { cause: err }),
      );
    });
  }

  // ---- timing helpers ----

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimer(ms, () => {
        this.pendingTimers.delete(timer);
        this.closeWaiters.delete(reject);
        resolve();
      });
      this.pendingTimers.add(timer);
      this.closeWaiters.add(reject);
    });
  }

  private withTimeout<T>(promise: Promise<T>, timer: IsoTpTimer, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const handle = this.clock.setTimer(ms, () => {
        this.pendingTimers.delete(handle);
        this.closeWaiters.delete(reject);
        reject(new IsoTpTimeout(timer, ms));
      });
      this.pendingTimers.add(handle);
      this.closeWaiters.add(reject);
      promise.then(
        (v) => {
          handle.cancel();
          this.pendingTimers.delete(handle);
          this.closeWaiters.delete(reject);
          resolve(v);
        },
        (e: unknown) => {
          handle.cancel();
          this.pendingTimers.delete(handle);
          this.closeWaiters.delete(reject);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }
}
