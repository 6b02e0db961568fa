import { createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import { EdgetuneError, messageOf } from '../util/errors.js';
import type { TransportLogger } from './mqtt-connection.js';

/** Caller input for {@link startEmbeddedBroker}. */
export interface EmbeddedBrokerOptions {
  /** Interface to listen on (default 127.0.0.1: the embedded broker is for one machine). */
  host?: string;
  /** TCP port; 0 picks a free one (tests). */
  port: number;
  log?: TransportLogger;
}

/** A running embedded broker. */
export interface EmbeddedBroker {
  host: string;
  port: number;
  /** mqtt://host:port */
  url: string;
  /** Stop accepting, close every client, stop the broker. */
  close(): Promise<void>;
}

/**
 * Start an in-process MQTT 3.1.1 broker (aedes, in-memory persistence) so that a newcomer sees the whole loop with
 * nothing else installed. A fleet uses Mosquitto/EMQX/HiveMQ instead. The only importer of `aedes`.
 */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const host = options.host ?? '127.0.0.1';
  const broker = await Aedes.createBroker({
    // Values from the aedes docs: a frozen subscriber must not deadlock the broker.
    drainTimeout: 60_000,
    connectTimeout: 30_000,
    maxTopicLevels: 16,
  });
  broker.on('clientError', (client, error) => options.log?.debug(`broker: client ${client?.id ?? '?'}: ${messageOf(error)}`));
  broker.on('connectionError', (_client, error) => options.log?.debug(`broker: connection error: ${messageOf(error)}`));
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw new EdgetuneError('BROKER_FAILED', `embedded broker cannot listen on ${host}:${options.port}: ${messageOf(error)}`, { cause: error });
  }
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  let closed = false;
  return {
    host,
    port,
    url: `mqtt://${host}:${port}`,
    close: async () => {
      if (closed) return;
      closed = true;
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await serverClosed;
    },
  };
}
