/**
 * The EMV MPM checksum: CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, no reflection, no final
 * XOR; "123456789" → 0x29B1), computed over the UTF-8 BYTES of the payload up to and including the characters
 * "6304", written as 4 upper-case hexadecimal digits with leading zeros.
 */

const TABLE: Uint16Array = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();

/**
 * CRC-16/CCITT-FALSE of bytes.
 * @param bytes the data
 * @returns the checksum, 0…0xFFFF
 */
export function crc16CcittFalse(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const b of bytes) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ b) & 0xff]!;
  return crc;
}

/**
 * The EMV checksum text of a payload prefix.
 * @param textThroughCrcTag everything before the checksum digits, ending with "6304"
 * @returns 4 upper-case hex digits, zero-padded (e.g. "0A3F")
 */
export function emvCrcHex(textThroughCrcTag: string): string {
  return crc16CcittFalse(new TextEncoder().encode(textThroughCrcTag))
    .toString(16)
    .toUpperCase()
    .padStart(4, '0');
}
