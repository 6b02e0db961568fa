/**
 * Free loopback ports for tests and benchmarks that start servers (brokers, NATS nodes) on a port chosen first.
 *
 * Chosen at random below the kernel's ephemeral range (32768–60999 on Linux), not with `listen(0)`: a port the kernel
 * hands out for `listen(0)` is just as free to go to the next outgoing connection of any process between our check
 * and the server's bind — how a CI run once lost a NATS node ("bind: address already in use").
 */
import { createServer } from 'node:net';

const LOW_PORT = 20_000;
const PORT_SPAN = 12_000;
/** Ports this process already handed out (a server may not have bound them yet). */
const handedOut = new Set<number>();

/** True when `port` on 127.0.0.1 can be bound now. */
export async function portBindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port in 20000–31999 that binds now and that this process has not handed out before. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 500; tries++) {
    const port = LOW_PORT + Math.floor(Math.random() * PORT_SPAN);
    if (handedOut.has(port)) continue;
    if (await portBindable(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port found in ${LOW_PORT}–${LOW_PORT + PORT_SPAN - 1}`);
}
