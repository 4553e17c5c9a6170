// The wall's `split:` section (issue 14): defaults, every policy key, and named refusals.
import { describe, expect, it } from 'vitest';
import { readSplitConfig, SPLIT_POLICY_DEFAULTS } from '../../payments/split-config.js';

const operatorKey = '02' + 'ab'.repeat(32);
const recipients = [
  { name: 'host', remainder: true, shares: 90 },
  { name: 'operator', shares: 10, destination: 'op@pay.example.com', payeePubkey: operatorKey },
];

describe('readSplitConfig', () => {
  it('reads a 90/10 split with the default policy', () => {
    const r = readSplitConfig({ recipients });
    expect(r.ok && r.value.policy).toEqual(SPLIT_POLICY_DEFAULTS);
    expect(r.ok && r.value.split.remainderName).toBe('host');
  });
  it('reads every policy key', () => {
    const r = readSplitConfig({
      recipients,
      thresholdMsat: '250000',
      payAtSessionEnd: false,
      dailyAtUtcHour: -1,
      minMsat: 2000,
      maxFeePpm: 1000,
      maxFeeMsat: 3000,
      retryFirstDelaySec: 5,
      retryMaxDelaySec: 600,
      alarmAfterFailures: 1,
      tlsCaFile: 'ca.pem',
    });
    expect(r.ok && r.value).toMatchObject({
      policy: {
        thresholdMsat: 250_000n,
        payAtSessionEnd: false,
        dailyAtUtcHour: -1,
        minMsat: 2_000n,
        maxFeePpm: 1_000n,
        maxFeeMsat: 3_000n,
        retryFirstDelayMs: 5_000,
        retryMaxDelayMs: 600_000,
        alarmAfterFailures: 1,
      },
      tlsCaFile: 'ca.pem',
    });
  });
  it('names every refusal', () => {
    const cases: [unknown, string][] = [
      [[], 'SplitNotAMapping'],
      [{ recipients: [] }, 'SplitRecipientsInvalid'],
      [{ recipients: [{ name: 'host', remainder: true, colour: 'red' }] }, 'SplitRecipientsInvalid'],
      [{ recipients, bogus: 1 }, 'SplitUnknownKey'],
      [{ recipients, maxFeePpm: 2_000_000 }, 'SplitPolicyInvalid'],
      [{ recipients, minMsat: 1 }, 'SplitPolicyInvalid'],
      [{ recipients, retryFirstDelaySec: 60, retryMaxDelaySec: 10 }, 'SplitPolicyInvalid'],
      [
        { recipients: [recipients[0], { name: 'op', shares: 1, destination: 'op@x.example' }] },
        'SplitPayeeNotPinned',
      ],
      [{ recipients: [recipients[1]] }, 'SplitRemainderCount'],
      [
        {
          recipients: [
            recipients[0],
            { name: 'a', fee: true, percent: 60, destination: operatorKey },
            { name: 'b', fee: true, percent: 50, destination: operatorKey },
          ],
        },
        'SplitPercentOverflow',
      ],
      [
        { recipients: [recipients[0], { name: 'x', shares: 1, destination: 'nonsense' }] },
        'SplitDestinationInvalid',
      ],
    ];
    for (const [value, name] of cases) {
      const r = readSplitConfig(value);
      expect(r.ok ? 'ok' : r.error.name, JSON.stringify(value)).toBe(name);
    }
  });
});
