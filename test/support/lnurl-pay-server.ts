// A Lightning-address / LNURL-pay server (LUD-06, LUD-12, LUD-16) for a regtest lnd node, on loopback over
// HTTPS with a self-signed certificate: `GET /.well-known/lnurlp/<user>` serves the payRequest, the callback
// creates a real invoice on the node with description_hash = sha256(metadata) and the LUD-12 comment as its
// memo. For tests of hostile servers it can misbehave on purpose (wrong amount, another payee, a wrong
// description hash, an oversized or a slow answer).
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authenticatedLndGrpc, createInvoice, type AuthenticatedLnd } from 'lightning';
import type { NodeConnection } from '../../scripts/regtest/network.js';
import { closeLnd } from '../../scripts/regtest/network.js';
import { selfSigned } from './tls-cert.js';

/** How the server answers the callback. */
export type LnurlServerMode =
  'honest' | 'wrongAmount' | 'wrongPayee' | 'wrongDescriptionHash' | 'oversized' | 'slow';

/** A running server. */
export interface LnurlPayServer {
  /** `user@127.0.0.1:port` */
  address: string;
  /** the CA (the server's own certificate) to trust, PEM */
  caPem: string;
  /** change behaviour at run time */
  setMode(mode: LnurlServerMode): void;
  /** callback requests served */
  callbacks: number;
  close(): Promise<void>;
}

const COMMENT_ALLOWED = 600;

/**
 * Starts the server.
 * @param opts.node the payee node (its invoices are served)
 * @param opts.otherNode a node used by `wrongPayee` (an invoice the pinned key did not sign)
 * @param opts.user the address's user part (default `operator`)
 * @param opts.slowMs how long `slow` waits before answering (default 30000)
 * @returns the server
 */
export async function startLnurlPayServer(opts: {
  node: NodeConnection;
  otherNode: NodeConnection;
  user?: string;
  slowMs?: number;
}): Promise<LnurlPayServer> {
  const user = opts.user ?? 'operator';
  const dir = mkdtempSync(join(tmpdir(), 'lnurl-'));
  const tls = selfSigned(dir, 'lnurl');
  const lndOf = (n: NodeConnection): AuthenticatedLnd =>
    authenticatedLndGrpc({ socket: n.socket, cert: n.cert, macaroon: n.macaroon }).lnd;
  const lnd = lndOf(opts.node);
  const other = lndOf(opts.otherNode);
  const metadata = JSON.stringify([
    ['text/plain', `split payouts to ${user}`],
    ['text/identifier', `${user}@127.0.0.1`],
  ]);
  const descriptionHash = createHash('sha256').update(metadata, 'utf8').digest('hex');
  let mode: LnurlServerMode = 'honest';
  const state = { callbacks: 0 };
  let port = 0;
  const timers = new Set<NodeJS.Timeout>();

  const server: Server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    const url = new URL(req.url ?? '/', `https://127.0.0.1:${port}`);
    const send = (body: string): void => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    };
    if (url.pathname === `/.well-known/lnurlp/${user}`) {
      send(
        JSON.stringify({
          tag: 'payRequest',
          callback: `https://127.0.0.1:${port}/callback/${user}`,
          minSendable: 1000,
          maxSendable: 1_000_000_000,
          metadata,
          commentAllowed: COMMENT_ALLOWED,
        }),
      );
      return;
    }
    if (url.pathname !== `/callback/${user}`) {
      res.writeHead(404).end();
      return;
    }
    state.callbacks += 1;
    const amount = BigInt(url.searchParams.get('amount') ?? '0');
    const comment = url.searchParams.get('comment') ?? '';
    if (mode === 'oversized') {
      send(JSON.stringify({ pr: 'lnbcrt1' + 'q'.repeat(200_000) }));
      return;
    }
    if (mode === 'slow') {
      const t = setTimeout(() => {
        timers.delete(t);
        send(JSON.stringify({ status: 'ERROR', reason: 'too late' }));
      }, opts.slowMs ?? 30_000);
      timers.add(t);
      return;
    }
    const mtokens = mode === 'wrongAmount' ? amount + 1000n : amount;
    const hash =
      mode === 'wrongDescriptionHash'
        ? createHash('sha256').update('other metadata').digest('hex')
        : descriptionHash;
    createInvoice({
      lnd: mode === 'wrongPayee' ? other : lnd,
      mtokens: mtokens.toString(),
      description: comment,
      description_hash: hash,
    }).then(
      (inv) => send(JSON.stringify({ pr: inv.request, routes: [] })),
      (err: unknown) => send(JSON.stringify({ status: 'ERROR', reason: String(err).slice(0, 200) })),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
  return {
    address: `${user}@127.0.0.1:${port}`,
    caPem: tls.certPem,
    setMode: (m) => {
      mode = m;
    },
    get callbacks() {
      return state.callbacks;
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      closeLnd(lnd);
      closeLnd(other);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
