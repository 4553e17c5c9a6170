/**
 * Opening a serial device (SLCAN adapter, or any USB CDC / FTDI serial device) so that its disappearance is
 * always noticed.
 *
 * Why this exists: when a tty hangs up (USB adapter unplugged, or the far side of a PTY pair gone), Linux first
 * fails reads with EIO and, once the hangup has completed, returns end of file (0 bytes) on every read.
 * serialport 13 (`@serialport/bindings-cpp` `unixRead`) treats a 0-byte read as "try again" and retries at
 * once, forever (serialport/bindings-cpp#162): the port never closes, no `close` event is emitted, and the
 * process spins reading EOF. Which of the two a driver sees depends on whether its read runs before or after
 * the kernel finishes the hangup, i.e. on scheduling; on a busy CPU the hangup usually wins and the unplugged
 * adapter goes unnoticed for good. Here a 0-byte read is reported as what it is, a hangup, so the stream
 * closes with a disconnect error and the driver's `close` handling runs.
 */
import { readSync, writeSync } from 'node:fs';
import { SerialPort } from 'serialport';

/** The tty reported end of file: the device behind it is gone (unplugged, or its PTY peer closed). */
export class SerialHangup extends Error {
  override name = 'SerialHangup';
  /** Marks the error as a disconnect for serialport's stream layer. */
  readonly disconnect = true;
}

/** Options of {@link openSerialDevice}. */
export interface SerialDeviceOptions {
  /** Device path, e.g. `/dev/ttyACM0`. */
  path: string;
  /** Baud rate (USB CDC adapters ignore it). */
  baudRate: number;
}

type DetectedBinding = typeof SerialPort.binding;
type PortBinding = Awaited<ReturnType<DetectedBinding['open']>>;
type ReadResult = Awaited<ReturnType<PortBinding['read']>>;

/** What the Unix bindings (Linux, macOS) expose: the descriptor and the poller waiting for readability. */
interface UnixPortInternals {
  fd: number | null;
  poller: { once(event: 'readable' | 'writable', callback: (err: Error | null) => void): unknown };
}

/**
 * Opens a serial device whose hangup closes the port (`close` event with a disconnect error) instead of going
 * unnoticed.
 *
 * @param options device path and baud rate
 * @returns the open port (a regular serialport `SerialPort`)
 * @throws the serial layer's error when the device cannot be opened (missing, busy, no permission)
 */
export async function openSerialDevice(options: SerialDeviceOptions): Promise<SerialPort> {
  const port = new SerialPort(
    // `binding` is not in serialport's public option type, but SerialPort passes it on to its stream
    Object.assign(
      { path: options.path, baudRate: options.baudRate, autoOpen: false },
      { binding: hangupAwareBinding },
    ),
  );
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  return port;
}

/** serialport's detected binding, with each opened port's `read` replaced by {@link hangupAwareRead}. */
const hangupAwareBinding = {
  list: (): ReturnType<DetectedBinding['list']> => SerialPort.binding.list(),
  open: async (options: BindingOpenOptions): Promise<PortBinding> =>
    withHangupAwareRead(await openWithDetectedBinding(options)),
};
/** The options the stream layer hands to the binding (this platform's binding's own option type). */
type BindingOpenOptions = Parameters<DetectedBinding['open']>[0];
/** `SerialPort.binding.open`, callable although its type is the union of every platform's binding. */
const openWithDetectedBinding = SerialPort.binding.open.bind(SerialPort.binding) as unknown as (
  options: BindingOpenOptions,
) => Promise<PortBinding>;

function withHangupAwareRead(port: PortBinding): PortBinding {
  const unix = port as unknown as Partial<UnixPortInternals>;
  if (!('fd' in unix) || !unix.poller) return port; // Windows: overlapped reads, no EOF loop
  const internals = unix as UnixPortInternals;
  const read = (buffer: Buffer, offset: number, length: number): Promise<ReadResult> =>
    hangupAwareRead(port, internals, buffer, offset, length);
  const write = (buffer: Buffer): Promise<void> => nonBlockingWrite(port, internals, buffer);
  return new Proxy(port, {
    get(target, property) {
      if (property === 'read') return read;
      if (property === 'write') return write;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * The binding contract of `read` (at least one byte, or an error; `canceled` errors when the port closes),
 * with end of file reported as {@link SerialHangup}.
 */
async function hangupAwareRead(
  port: PortBinding,
  unix: UnixPortInternals,
  buffer: Buffer,
  offset: number,
  length: number,
): Promise<ReadResult> {
  for (;;) {
    const fd = unix.fd;
    if (!port.isOpen || fd === null) throw canceled();
    let bytesRead: number;
    try {
      // the descriptor is non-blocking: a synchronous read returns at once (EAGAIN when empty), and spares each
      // read a trip through the libuv thread pool (a thread wake-up per serial transfer)
      bytesRead = readSync(fd, buffer, offset, length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK' && code !== 'EINTR') throw err;
      if (!port.isOpen) throw canceled();
      await new Promise<void>((resolve, reject) =>
        unix.poller.once('readable', (pollErr) => (pollErr ? reject(pollErr) : resolve())),
      );
      continue;
    }
    if (bytesRead > 0) return { buffer, bytesRead };
    if (!port.isOpen) throw canceled();
    throw new SerialHangup('serial device hung up (read returned end of file): adapter unplugged or gone');
  }
}

/**
 * The binding contract of `write` (all of `buffer`, or an error), written synchronously on the non-blocking
 * descriptor (no thread-pool trip per write); waits for writability only when the tty's buffer is full.
 */
async function nonBlockingWrite(port: PortBinding, unix: UnixPortInternals, buffer: Buffer): Promise<void> {
  let offset = 0;
  while (offset < buffer.length) {
    const fd = unix.fd;
    if (!port.isOpen || fd === null) throw new Error('Port is not open');
    try {
      offset += writeSync(fd, buffer, offset, buffer.length - offset);
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { disconnect?: boolean };
      if (e.code !== 'EAGAIN' && e.code !== 'EWOULDBLOCK' && e.code !== 'EINTR') {
        if (e.code === 'EBADF' || e.code === 'ENXIO' || e.code === 'EIO') e.disconnect = true;
        throw e;
      }
      await new Promise<void>((resolve, reject) =>
        unix.poller.once('writable', (pollErr) => (pollErr ? reject(pollErr) : resolve())),
      );
    }
  }
}

function canceled(): Error {
  return Object.assign(new Error('Port is not open'), { canceled: true });
}
