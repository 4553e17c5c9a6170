// How to reach an lnd node: an `lndconnect://` URI or explicit socket + cert + macaroon (values or file paths).
// The result is exactly what ln-service's `authenticatedLndGrpc` takes.
import { readFileSync } from 'node:fs';

/** Explicit connection details; each of cert and macaroon as a value or a file path. */
export interface LndConnectionInput {
  /** gRPC `host:port` */
  socket: string;
  /** TLS certificate: base64 of the PEM file, or the PEM text itself; omit for a CA-signed certificate */
  cert?: string;
  /** path of lnd's `tls.cert` (PEM) */
  certPath?: string;
  /** macaroon, hex or base64 */
  macaroon?: string;
  /** path of a binary macaroon file, e.g. `admin.macaroon` */
  macaroonPath?: string;
}

/** Normalised connection: what `authenticatedLndGrpc` takes. */
export interface LndConnection {
  /** gRPC `host:port` */
  socket: string;
  /** base64 of the certificate PEM, or undefined to trust system CAs */
  cert: string | undefined;
  /** macaroon, hex */
  macaroon: string;
}

/** The connection details are malformed or incomplete. */
export class InvalidLndConnection extends Error {
  override readonly name = 'InvalidLndConnection';
}

/** Parses an `lndconnect://host:port?cert=<base64url DER>&macaroon=<base64url>` URI or explicit details.

  {
    input: <lndconnect URI String> | <LndConnectionInput>
  }

  @returns <LndConnection>
  @throws InvalidLndConnection naming what is wrong
*/
export function parseLndConnection(input: string | LndConnectionInput): LndConnection {
  return typeof input === 'string' ? parseLndConnectUri(input) : parseExplicit(input);
}

function parseLndConnectUri(uri: string): LndConnection {
  let url: URL;
  try {
    url = new URL(uri.trim());
  } catch {
    throw new InvalidLndConnection('lndconnect URI is not a valid URI');
  }
  if (url.protocol !== 'lndconnect:') {
    throw new InvalidLndConnection(`expected an lndconnect:// URI, got ${url.protocol}//`);
  }
  if (!url.hostname) throw new InvalidLndConnection('lndconnect URI has no host');
  const port = url.port || '10009';
  const macaroonParam = url.searchParams.get('macaroon');
  if (!macaroonParam) throw new InvalidLndConnection('lndconnect URI has no macaroon parameter');
  const macaroon = base64UrlToBuffer(macaroonParam, 'macaroon');
  if (macaroon.length === 0) throw new InvalidLndConnection('lndconnect macaroon is empty');
  const certParam = url.searchParams.get('cert');
  let cert: string | undefined;
  if (certParam) {
    const der = base64UrlToBuffer(certParam, 'cert');
    if (der.length === 0) throw new InvalidLndConnection('lndconnect cert is empty');
    cert = Buffer.from(derToPem(der)).toString('base64');
  }
  return { socket: `${url.hostname}:${port}`, cert, macaroon: macaroon.toString('hex') };
}

function parseExplicit(input: LndConnectionInput): LndConnection {
  if (!input.socket || !/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(input.socket)) {
    throw new InvalidLndConnection(`socket must be host:port, got ${JSON.stringify(input.socket)}`);
  }
  let cert: string | undefined;
  if (input.cert !== undefined && input.certPath !== undefined) {
    throw new InvalidLndConnection('give cert or certPath, not both');
  }
  if (input.certPath !== undefined) cert = readCredential(input.certPath, 'certPath').toString('base64');
  else if (input.cert !== undefined) cert = normaliseCert(input.cert);

  let macaroon: string;
  if (input.macaroon !== undefined && input.macaroonPath !== undefined) {
    throw new InvalidLndConnection('give macaroon or macaroonPath, not both');
  }
  if (input.macaroonPath !== undefined)
    macaroon = readCredential(input.macaroonPath, 'macaroonPath').toString('hex');
  else if (input.macaroon !== undefined) macaroon = normaliseMacaroon(input.macaroon);
  else throw new InvalidLndConnection('a macaroon (or macaroonPath) is required');
  return { socket: input.socket, cert, macaroon };
}

/** Largest credential file read, bytes (a macaroon or a certificate is a few KiB). */
const MAX_CREDENTIAL_BYTES = 1 << 20;

/**
 * Reads a credential file (certificate or macaroon).
 *
 * @param path the file
 * @param what the option that named it, for the error
 * @returns its bytes
 * @throws InvalidLndConnection naming the option and what is wrong (missing, unreadable, empty, too large)
 */
function readCredential(path: string, what: 'certPath' | 'macaroonPath'): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : (err as Error).message;
    throw new InvalidLndConnection(`${what} ${path}: ${why}`);
  }
  if (bytes.length === 0) throw new InvalidLndConnection(`${what} ${path}: the file is empty`);
  if (bytes.length > MAX_CREDENTIAL_BYTES)
    throw new InvalidLndConnection(`${what} ${path}: larger than ${MAX_CREDENTIAL_BYTES} bytes`);
  if (what === 'certPath' && !bytes.toString('utf8').includes('-----BEGIN CERTIFICATE-----'))
    throw new InvalidLndConnection(`${what} ${path}: not a PEM certificate`);
  return bytes;
}

/** Accepts PEM text or base64 of PEM; returns base64 of PEM. */
function normaliseCert(cert: string): string {
  const text = cert.trim();
  if (text.startsWith('-----BEGIN CERTIFICATE-----')) return Buffer.from(text + '\n').toString('base64');
  if (!/^[A-Za-z0-9+/=\s]+$/.test(text)) throw new InvalidLndConnection('cert is neither PEM nor base64');
  const decoded = Buffer.from(text, 'base64').toString('utf8');
  if (!decoded.includes('-----BEGIN CERTIFICATE-----')) {
    throw new InvalidLndConnection('cert base64 does not decode to a PEM certificate');
  }
  return text.replace(/\s+/g, '');
}

/** Accepts hex or base64; returns hex. */
function normaliseMacaroon(macaroon: string): string {
  const text = macaroon.trim();
  if (/^[0-9a-fA-F]+$/.test(text) && text.length % 2 === 0) return text.toLowerCase();
  if (/^[A-Za-z0-9+/_-]+=*$/.test(text)) return base64UrlToBuffer(text, 'macaroon').toString('hex');
  throw new InvalidLndConnection('macaroon is neither hex nor base64');
}

function base64UrlToBuffer(value: string, what: string): Buffer {
  if (!/^[A-Za-z0-9+/_-]+=*$/.test(value))
    throw new InvalidLndConnection(`lndconnect ${what} is not base64url`);
  return Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

function derToPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
