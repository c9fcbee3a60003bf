import { createConnection, createServer, type Socket } from 'node:net';

/** A TCP proxy on loopback in front of a real server, which can break what the server sends. */
export interface FaultProxy {
  port: number;
  /** Replaces the first byte of the next chunk the server sends, on whichever connection it comes. */
  corruptNextReply(): void;
  /**
   * Holds back what the server sends, on every connection, until {@link release}: in front of a master
   * that a replica follows through the proxy, the replica stops applying writes (it stays connected).
   */
  hold(): void;
  /** Sends on what was held, in order, and passes everything through again. */
  release(): void;
  close(): Promise<void>;
}

/** Starts a proxy to 127.0.0.1:`targetPort` on a free port. */
export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  let armed = false;
  let isHeld = false;
  /** What each client has not been sent while held, in order. */
  const held = new Map<Socket, Buffer[]>();
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    upstream.on('data', (chunk: Buffer) => {
      if (armed) {
        armed = false;
        chunk[0] = 0x3f; // '?': no RESP2 reply starts with it
      }
      if (!isHeld) return void client.write(chunk);
      const queue = held.get(client) ?? [];
      queue.push(chunk);
      held.set(client, queue);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    corruptNextReply: () => {
      armed = true;
    },
    hold: () => {
      isHeld = true;
    },
    release: () => {
      isHeld = false;
      for (const [client, chunks] of held) for (const chunk of chunks) client.write(chunk);
      held.clear();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((done) => server.close(done));
    },
  };
}
