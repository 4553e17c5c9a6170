// ln-service ships no type declarations; it re-exports the `lightning` package, which does, plus a few helpers
// from the `invoices` package declared here.
declare module 'ln-service' {
  export * from 'lightning';

  /** Decodes a BOLT11 request without verifying it against any expectation (used only to get its hash). */
  export function parsePaymentRequest(args: { request: string }): {
    /** payment hash, hex */
    id: string;
    /** payee public key, hex */
    destination: string;
    /** amount, msat, when the request has one */
    mtokens?: string;
    /** expiry, ISO 8601 */
    expires_at: string;
    is_expired: boolean;
    network: string;
  };
}
