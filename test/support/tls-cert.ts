/** Test TLS material: self-signed certificates for a local wss:// CSMS (security profile 2). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A self-signed certificate for `localhost` / 127.0.0.1 (EC P-256, valid two days), made with openssl.
 *
 * @param dir folder for the key and certificate files (`<name>.key`, `<name>.crt`)
 * @param name file base name
 * @returns the PEM texts and the certificate's path (a CA file for a station)
 * @throws Error naming openssl when it is missing or fails
 */
export function selfSigned(dir: string, name: string): { certPem: string; keyPem: string; certFile: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: 'pipe' },
    );
  } catch (err) {
    throw new Error(`openssl is required for the TLS test (apt-get install openssl): ${String(err)}`);
  }
  return { certPem: readFileSync(cert, 'utf8'), keyPem: readFileSync(key, 'utf8'), certFile: cert };
}
