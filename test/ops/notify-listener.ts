// A unix datagram socket the tests listen on, standing in for systemd's notification socket. Node cannot bind
// unix datagram sockets, so a small Python process binds it and prints every datagram as one JSON line.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** One received notification. */
export interface Notification {
  /** the datagram's text */
  text: string;
  /** when it arrived, real ms */
  atMs: number;
}

/** A listening notification socket. */
export class NotifyListener {
  readonly received: Notification[] = [];
  private constructor(
    private readonly child: ChildProcess,
    /** the value for `NOTIFY_SOCKET` */
    readonly socket: string,
  ) {}

  /**
   * Binds the socket and starts listening.
   *
   * @param socket a file path, or `@name` for the abstract namespace
   */
  static async listen(socket: string): Promise<NotifyListener> {
    const code = [
      'import json, socket, sys, time',
      'p = sys.argv[1]',
      "p = '\\0' + p[1:] if p.startswith('@') else p",
      's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
      's.bind(p)',
      "print(json.dumps({'bound': True}), flush=True)",
      'while True:',
      '    d = s.recv(65536)',
      "    print(json.dumps({'text': d.decode(), 't': time.time() * 1000}), flush=True)",
    ].join('\n');
    const child = spawn('python3', ['-u', '-c', code, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
    const listener = new NotifyListener(child, socket);
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((resolve, reject) => {
      child.once('error', (e) =>
        reject(new Error(`python3 is needed for the notify listener: ${e.message}`)),
      );
      child.once('exit', (c) => reject(new Error(`notify listener exited (${c})`)));
      lines.on('line', (line) => {
        const m = JSON.parse(line) as { bound?: boolean; text?: string; t?: number };
        if (m.bound) resolve();
        else listener.received.push({ text: m.text ?? '', atMs: m.t ?? 0 });
      });
    });
    return listener;
  }

  /** Received messages containing `assignment` (e.g. `READY=1`). */
  with(assignment: string): Notification[] {
    return this.received.filter((n) => n.text.split('\n').includes(assignment));
  }

  /**
   * Waits until a message with `assignment` arrived.
   *
   * @param assignment e.g. `STOPPING=1`
   * @param timeoutMs real ms
   */
  async waitFor(assignment: string, timeoutMs = 10_000): Promise<Notification> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const n = this.with(assignment)[0];
      if (n) return n;
      if (Date.now() > deadline) throw new Error(`no ${assignment} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops listening. */
  close(): void {
    this.child.kill();
  }
}
