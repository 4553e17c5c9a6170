// The regtest miner's key: btcd has `generate` but no wallet and no `generatetoaddress`, so block rewards go to
// the `--miningaddr` given at start. We mine to a P2PKH key held here and spend a matured coinbase to the lnd
// wallets with a legacy-signed transaction (regtest only; the key lives in the git-ignored state folder).
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';

const REGTEST_P2PKH_VERSION = 0x6f;
const REGTEST_P2SH_VERSION = 0xc4;
const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** A regtest P2PKH key that receives block rewards. */
export interface MiningKey {
  /** 32-byte secret key, hex */
  secretKeyHex: string;
  /** Base58 regtest P2PKH address for btcd `--miningaddr` */
  address: string;
}

/** Creates a fresh random mining key. */
export function createMiningKey(): MiningKey {
  const secret = secp256k1.utils.randomSecretKey();
  return { secretKeyHex: Buffer.from(secret).toString('hex'), address: p2pkhAddress(secret) };
}

/** Regtest P2PKH address of a secret key. */
function p2pkhAddress(secret: Uint8Array): string {
  const pub = secp256k1.getPublicKey(secret, true);
  return base58check(Uint8Array.from([REGTEST_P2PKH_VERSION, ...hash160(pub)]));
}

/** One output to create: a base58 regtest address (P2PKH or P2SH, e.g. lnd's np2wpkh) and an amount in sat. */
export interface TxOutput {
  address: string;
  amountSat: bigint;
}

/** Builds and signs a transaction spending one P2PKH output owned by `key`.

  {
    key: <MiningKey>
    txid: <Spent Transaction Id Hex String> (RPC byte order)
    vout: <Spent Output Index Number>
    outputs: [<TxOutput>]
  }

  @returns <Signed Raw Transaction Hex String>
*/
export function signP2pkhSpend(args: {
  key: MiningKey;
  txid: string;
  vout: number;
  outputs: TxOutput[];
}): string {
  const secret = Uint8Array.from(Buffer.from(args.key.secretKeyHex, 'hex'));
  const pub = secp256k1.getPublicKey(secret, true);
  const prevScript = p2pkhScript(hash160(pub));
  const outs = args.outputs.map((o) => ({ value: o.amountSat, script: scriptForAddress(o.address) }));
  const serialize = (scriptSig: Uint8Array): Uint8Array =>
    concat(
      u32le(2),
      varint(1),
      Uint8Array.from(Buffer.from(args.txid, 'hex').reverse()),
      u32le(args.vout),
      varint(scriptSig.length),
      scriptSig,
      u32le(0xffffffff),
      varint(outs.length),
      ...outs.flatMap((o) => [u64le(o.value), varint(o.script.length), o.script]),
      u32le(0),
    );
  const SIGHASH_ALL = 1;
  const digest = sha256(sha256(concat(serialize(prevScript), u32le(SIGHASH_ALL))));
  const der = secp256k1.sign(digest, secret, { prehash: false, lowS: true, format: 'der' });
  const sig = concat(der, Uint8Array.of(SIGHASH_ALL));
  const scriptSig = concat(Uint8Array.of(sig.length), sig, Uint8Array.of(pub.length), pub);
  return Buffer.from(serialize(scriptSig)).toString('hex');
}

/** scriptPubKey for a base58 regtest P2PKH or P2SH address. */
function scriptForAddress(address: string): Uint8Array {
  const payload = base58checkDecode(address);
  const hash = payload.subarray(1);
  if (hash.length !== 20) throw new Error(`unsupported address ${address}`);
  if (payload[0] === REGTEST_P2PKH_VERSION) return p2pkhScript(hash);
  if (payload[0] === REGTEST_P2SH_VERSION)
    return concat(Uint8Array.of(0xa9, 0x14), hash, Uint8Array.of(0x87));
  throw new Error(`address ${address} is not a regtest P2PKH/P2SH address`);
}

const p2pkhScript = (hash: Uint8Array): Uint8Array =>
  concat(Uint8Array.of(0x76, 0xa9, 0x14), hash, Uint8Array.of(0x88, 0xac));
const hash160 = (data: Uint8Array): Uint8Array => ripemd160(sha256(data));

function base58check(payload: Uint8Array): string {
  const full = concat(payload, sha256(sha256(payload)).subarray(0, 4));
  let n = BigInt('0x' + (Buffer.from(full).toString('hex') || '0'));
  let out = '';
  while (n > 0n) {
    out = BASE58[Number(n % 58n)] + out;
    n /= 58n;
  }
  for (const b of full) {
    if (b !== 0) break;
    out = '1' + out;
  }
  return out;
}

function base58checkDecode(text: string): Uint8Array {
  let n = 0n;
  for (const ch of text) {
    const v = BASE58.indexOf(ch);
    if (v < 0) throw new Error(`invalid base58 character in ${text}`);
    n = n * 58n + BigInt(v);
  }
  let hex = n.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  const zeros = text.length - text.replace(/^1+/, '').length;
  const full = concat(new Uint8Array(zeros), Uint8Array.from(Buffer.from(n === 0n ? '' : hex, 'hex')));
  const payload = full.subarray(0, -4);
  const check = sha256(sha256(payload)).subarray(0, 4);
  if (Buffer.compare(Buffer.from(check), Buffer.from(full.subarray(-4))) !== 0) {
    throw new Error(`bad base58 checksum in ${text}`);
  }
  return payload;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}
function u32le(n: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}
function u64le(n: bigint): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
}
function varint(n: number): Uint8Array {
  if (n < 0xfd) return Uint8Array.of(n);
  const b = Buffer.alloc(3);
  b[0] = 0xfd;
  b.writeUInt16LE(n, 1);
  return b;
}
