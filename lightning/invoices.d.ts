// The `invoices` package (BOLT11 helpers by the author of ln-service and lightning) ships no type declarations;
// the one function used is declared here. (The node API itself comes from `lightning`, which ships its own.)
declare module 'invoices' {
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
