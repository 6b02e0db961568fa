import { describe, expect, it } from 'vitest';
import { HEARTBEAT_GRACE_S, heartbeatOverdueSeconds, summarizeDevice } from '../../../src/operator/list-devices.js';
import type { DeviceRow } from '../../../src/store/operator-store.js';

const at = Date.parse('2026-12-02T12:00:00.000Z');
const beat = (periodS: number) => ({ at: new Date(at).toISOString(), nextAt: new Date(at + periodS * 1000).toISOString() });

describe('heartbeatOverdueSeconds', () => {
  it('is null until one period (at least the grace) past nextAt, then the seconds past nextAt', () => {
    const minute = beat(60);
    expect(heartbeatOverdueSeconds(minute, at + 60_000)).toBeNull();
    expect(heartbeatOverdueSeconds(minute, at + 119_000)).toBeNull();
    expect(heartbeatOverdueSeconds(minute, at + 121_000)).toBe(61);
    const second = beat(1);
    expect(heartbeatOverdueSeconds(second, at + 1000 + HEARTBEAT_GRACE_S * 1000)).toBeNull();
    expect(heartbeatOverdueSeconds(second, at + 1000 + HEARTBEAT_GRACE_S * 1000 + 1)).toBe(HEARTBEAT_GRACE_S);
  });

  it('is null when the heartbeat does not say when the next is due, or says nonsense', () => {
    expect(heartbeatOverdueSeconds(null, at)).toBeNull();
    expect(heartbeatOverdueSeconds({ at: new Date(at).toISOString() }, at + 3_600_000)).toBeNull();
    expect(heartbeatOverdueSeconds({ at: 'yesterday', nextAt: 'today' }, at)).toBeNull();
    expect(heartbeatOverdueSeconds({ at: new Date(at).toISOString(), nextAt: new Date(at - 1000).toISOString() }, at + 3_600_000)).toBeNull();
  });

  it('summarizeDevice flags only devices whose status says online', () => {
    const row = (state: string): DeviceRow =>
      ({ deviceId: 'd', state, status: null, hello: null, heartbeat: JSON.stringify(beat(60)), lastSeen: new Date(at).toISOString() });
    expect(summarizeDevice(row('online'), [], at + 600_000).heartbeatOverdueSeconds).toBe(540);
    expect(summarizeDevice(row('offline'), [], at + 600_000).heartbeatOverdueSeconds).toBeNull();
    expect(summarizeDevice(row('online'), [], at + 30_000).heartbeatOverdueSeconds).toBeNull();
  });
});
