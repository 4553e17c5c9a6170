/**
 * OpenEVSE state codes (`EVSE_STATE_xxx`, hex on the wire in `$GS`, `$AT`, `$ST`) and their meaning in
 * terms of the `Evse` interface. Shared by the RAPI driver and the RAPI emulator.
 */
import type { EvseFault, PilotState } from './evse.js';

/** Numeric EVSE state codes as sent by the firmware. */
export const RapiEvseState = {
  unknown: 0x00,
  A: 0x01,
  B: 0x02,
  C: 0x03,
  D: 0x04,
  diodeCheckFailed: 0x05,
  gfiFault: 0x06,
  noGround: 0x07,
  stuckRelay: 0x08,
  gfiSelfTestFailed: 0x09,
  overTemperature: 0x0a,
  overCurrent: 0x0b,
  sleeping: 0xfe,
  disabled: 0xff,
} as const;

const faultByCode: ReadonlyMap<number, EvseFault> = new Map<number, EvseFault>([
  [0x05, 'diode-check-failed'],
  [0x06, 'gfi-fault'],
  [0x07, 'no-ground'],
  [0x08, 'stuck-relay'],
  [0x09, 'gfi-self-test-failed'],
  [0x0a, 'over-temperature'],
  [0x0b, 'over-current'],
]);

/**
 * The fault an EVSE state code stands for.
 *
 * @param code EVSE state code (0..255)
 * @returns the fault, `unknown` for unassigned codes in the fault range, or null for A–D, sleeping, disabled
 */
export function faultOfState(code: number): EvseFault | null {
  if ((code >= 0x01 && code <= 0x04) || code === 0xfe || code === 0xff) return null;
  return faultByCode.get(code) ?? 'unknown';
}

/**
 * The EVSE state code for a fault (used by the emulator).
 *
 * @param fault the fault
 * @returns the firmware's code for it (unknown → 0x00)
 */
export function stateOfFault(fault: EvseFault): number {
  for (const [code, f] of faultByCode) if (f === fault) return code;
  return RapiEvseState.unknown;
}

/**
 * The pilot state a code 1..4 stands for.
 *
 * @param code EVSE or pilot state code
 * @returns A–D, or null when the code is not a pilot state
 */
export function pilotOfState(code: number): PilotState | null {
  return code === 1 ? 'A' : code === 2 ? 'B' : code === 3 ? 'C' : code === 4 ? 'D' : null;
}

/**
 * The code for pilot state A–D (E and F have no code of their own; the firmware reports a fault instead).
 *
 * @param pilot pilot state
 * @returns 1..4, or 0 (unknown) for E and F
 */
export function stateOfPilot(pilot: PilotState): number {
  return { A: 1, B: 2, C: 3, D: 4, E: 0, F: 0 }[pilot];
}
