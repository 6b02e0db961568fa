import { Store } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { ClosedSafeStore } from '../../../src/transport/mqtt-connection.js';

const publish = { cmd: 'publish', messageId: 7, qos: 1, dup: false, retain: false, topic: 't', payload: Buffer.from('x') } as const;

const call = (fn: (cb: (error?: Error, packet?: unknown) => void) => unknown): Promise<Error | undefined> =>
  new Promise((resolve) => {
    fn((error) => resolve(error));
  });

describe('ClosedSafeStore', () => {
  it("MQTT.js's own Store throws once closed (the crash a late PUBACK caused)", async () => {
    const store = new Store();
    await new Promise<void>((r) => store.close(() => r()));
    expect(() => store.del({ messageId: 7 }, () => undefined)).toThrow(TypeError);
  });

  it('works as the Store while open, and answers every call with an error once closed, without throwing', async () => {
    const store = new ClosedSafeStore();
    expect(await call((cb) => store.put(publish, cb))).toBeFalsy();
    const got = await new Promise<unknown>((resolve) => store.get({ messageId: 7 }, (_e, p) => resolve(p)));
    expect(got).toMatchObject({ messageId: 7, topic: 't' });
    expect(await call((cb) => store.del({ messageId: 7 }, cb))).toBeFalsy();
    await new Promise<void>((r) => store.close(() => r()));
    expect((await call((cb) => store.del({ messageId: 7 }, cb)))?.message).toBe('mqtt store closed');
    expect((await call((cb) => store.get({ messageId: 7 }, cb)))?.message).toBe('mqtt store closed');
    expect((await call((cb) => store.put(publish, cb)))?.message).toBe('mqtt store closed');
    const stream = store.createStream();
    const items: unknown[] = [];
    for await (const item of stream) items.push(item);
    expect(items).toEqual([]);
    await new Promise<void>((r) => store.close(() => r())); // closing twice is harmless
  });
});
