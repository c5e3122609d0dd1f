// A local port that carries each accepted connection through a stream the transport opens (an SSH channel, or a
// plain TCP socket). Shared by both transports so tunnels behave the same.
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { ForwardHandle, ForwardTls, TransportLogger } from './transport';

export type OpenStream = (client: Socket) => Promise<Duplex>;

/** TLS over an opened stream, with the client's keys; the server's certificate names a cluster, not a host. */
function withTls(stream: Duplex, keys: ForwardTls): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const secured = tlsConnect({ socket: stream, ca: keys.ca, cert: keys.cert, key: keys.key, checkServerIdentity: () => undefined });
    secured.once('secureConnect', () => {
      secured.off('error', reject);
      resolve(secured);
    });
    secured.once('error', (e) => {
      stream.destroy();
      reject(e);
    });
  });
}

export async function serveForward(localPort: number, openStream: OpenStream, label: string, logger: TransportLogger, tls?: ForwardTls): Promise<ForwardHandle> {
  const open: OpenStream = tls ? async (client) => withTls(await openStream(client), tls) : openStream;
  const sockets = new Set<Socket | Duplex>();
  // No Nagle: a tunnel carries interactive traffic (a kernel's replies, a dashboard's websocket), and holding a small
  // write for the peer's delayed ACK costs each exchange ~40 ms.
  const server: Server = createServer({ noDelay: true }, (client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    open(client).then(
      (remote) => {
        if (client.destroyed) {
          remote.destroy();
          return;
        }
        sockets.add(remote);
        remote.once('close', () => {
          sockets.delete(remote);
          client.destroy();
        });
        remote.on('error', () => client.destroy());
        client.once('close', () => remote.destroy());
        client.pipe(remote).pipe(client);
        client.resume();
      },
      (err: unknown) => {
        logger.warn(`tunnel ${label}: ${err instanceof Error ? err.message : String(err)}`);
        client.destroy();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(localPort, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : localPort;
  logger.info(`tunnel 127.0.0.1:${port} -> ${label}`);
  let closed: Promise<void> | undefined;
  return {
    localPort: port,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        sockets.clear();
      });
      return closed;
    },
  };
}

/** The tunnels a transport has open, so that closing the transport closes them all. */
export class ForwardRegistry {
  private readonly open = new Set<ForwardHandle>();

  /** Registers a tunnel; the handle returned unregisters it when closed. */
  track(handle: ForwardHandle): ForwardHandle {
    this.open.add(handle);
    return {
      localPort: handle.localPort,
      close: async () => {
        this.open.delete(handle);
        await handle.close();
      },
    };
  }

  async closeAll(): Promise<void> {
    const all = [...this.open];
    this.open.clear();
    await Promise.all(all.map((f) => f.close()));
  }
}
