// A minimal JSON-RPC client for btcd over TLS (btcd serves RPC only over TLS; lnd needs it that way too).
import { request } from 'node:https';

/** Where and how to reach btcd's RPC server. */
export interface BtcdRpcConfig {
  /** `host:port` of the RPC listener, e.g. `127.0.0.1:18443` */
  host: string;
  user: string;
  pass: string;
  /** PEM text of btcd's self-signed RPC certificate */
  certPem: string;
}

/** btcd answered with a JSON-RPC error object. */
export class BtcdRpcError extends Error {
  override readonly name = 'BtcdRpcError';
  constructor(
    readonly method: string,
    readonly code: number,
    message: string,
  ) {
    super(`btcd ${method}: ${message} (code ${code})`);
  }
}

let nextId = 1;

/** Calls one btcd RPC method and resolves with its `result`.

  {
    config: <BtcdRpcConfig>
    method: <RPC Method Name String>
    params: [<JSON Value>]
    [timeoutMs]: <Request Timeout Milliseconds Number> (default 30000)
  }

  @returns <Result JSON Value>
  @throws BtcdRpcError when btcd answers with an error; Error on transport failure or timeout
*/
export function btcdRpc<T = unknown>(
  config: BtcdRpcConfig,
  method: string,
  params: unknown[] = [],
  timeoutMs = 30_000,
): Promise<T> {
  const [hostname, port] = splitHostPort(config.host);
  const body = JSON.stringify({ jsonrpc: '1.0', id: nextId++, method, params });
  return new Promise<T>((resolve, reject) => {
    const req = request(
      {
        hostname,
        port,
        method: 'POST',
        path: '/',
        ca: config.certPem,
        // btcd's certificate names the machine's host names and addresses; we pin the certificate itself.
        checkServerIdentity: () => undefined,
        auth: `${config.user}:${config.pass}`,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: { result?: T; error?: { code: number; message: string } | null };
          try {
            parsed = JSON.parse(text) as typeof parsed;
          } catch {
            reject(new Error(`btcd ${method}: HTTP ${res.statusCode ?? '?'} ${text.slice(0, 200)}`));
            return;
          }
          if (parsed.error) reject(new BtcdRpcError(method, parsed.error.code, parsed.error.message));
          else resolve(parsed.result as T);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`btcd ${method}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

function splitHostPort(hostPort: string): [string, number] {
  const i = hostPort.lastIndexOf(':');
  return [hostPort.slice(0, i), Number(hostPort.slice(i + 1))];
}
