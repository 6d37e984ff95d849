// The ceiling: a length-prefixed echo over node:net (and node:tls), with no serialization and no
// object model. Whatever an RPC system does on top costs something; this shows how much there is
// to spend on this machine. Connections and new-proxy calls count one echo as the "handshake".

import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { BenchError } from '../errors.js';
import type { ClientDriver } from '../harness.js';
import type { ClientPlan, ServerPlan } from '../messages.js';
import { PING_PAYLOAD_BYTES, systemScenarios } from '../scenarios.js';
import { type NodeSystem, type RunningServer, type SystemSpec, workerCommand } from '../system.js';
import { FrameReader, frame, frameHeader, HEADER_BYTES, OP_ECHO, OP_ONEWAY, OP_SINK } from './raw-frames.js';

export const rawSpec: SystemSpec = {
  id: 'raw',
  label: 'raw node:net',
  serializers: ['none'],
  scenarios: systemScenarios(['batched']),
  probe: async () => ({ available: true, versions: {} }),
  serverCommand: (plan) => workerCommand('raw', 'server', plan),
  clientCommand: (plan) => workerCommand('raw', 'client', plan),
};

const PING = frame(OP_ECHO, Buffer.alloc(PING_PAYLOAD_BYTES, 0x70));
const ONEWAY = frame(OP_ONEWAY, Buffer.alloc(PING_PAYLOAD_BYTES, 0x6f));

async function startServer(plan: ServerPlan): Promise<RunningServer> {
  const sockets = new Set<net.Socket>();
  const onConnection = (socket: net.Socket) => {
    sockets.add(socket);
    if (plan.transport !== 'unix') socket.setNoDelay(true);
    const reader = new FrameReader((op, body, whole) => {
      if (op === OP_ECHO) {
        if (whole !== null) socket.write(whole);
        else {
          socket.write(frameHeader(OP_ECHO, body.length));
          socket.write(body);
        }
      } else if (op === OP_SINK) {
        const reply = Buffer.allocUnsafe(HEADER_BYTES + 4);
        reply.writeUInt32BE(4, 0);
        reply[4] = OP_SINK;
        reply.writeUInt32BE(body.length, HEADER_BYTES);
        socket.write(reply);
      }
    });
    socket.on('data', (chunk: Buffer) => {
      // One write (writev) for every reply a chunk produced, as a pipelining server would do.
      socket.cork();
      try {
        reader.push(chunk);
      } catch (err) {
        socket.destroy(err as Error);
      }
      socket.uncork();
    });
    // Clients drop connections at will in the connection scenarios; that is not an error here.
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  };
  const server =
    plan.transport === 'tls'
      ? tls.createServer(
          { cert: readFileSync(plan.tls!.cert), key: readFileSync(plan.tls!.key) },
          onConnection,
        )
      : net.createServer(onConnection);
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (plan.transport === 'unix') server.listen(plan.socketPath!, resolve);
    else server.listen(0, '127.0.0.1', resolve);
  });
  const bound = server.address();
  const address = typeof bound === 'object' && bound !== null ? `127.0.0.1:${bound.port}` : String(bound);
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Pending {
  resolve: (body: Buffer) => void;
  reject: (err: Error) => void;
}

/** One client connection; replies come back in request order, so a FIFO matches them up. */
class RawConnection {
  readonly #socket: net.Socket;
  readonly #pending: Pending[] = [];
  #error: Error | null = null;
  #closed = false;
  #corked = false;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    const reader = new FrameReader((_op, body) => {
      const waiter = this.#pending.shift();
      if (waiter) waiter.resolve(body);
      else this.#fail(new BenchError('PROTOCOL', 'reply without a request'));
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (err) {
        this.#fail(err as Error);
      }
    });
    socket.on('error', (err) => this.#fail(err));
    socket.on('close', () => {
      if (this.#pending.length > 0 || !this.#closed)
        this.#fail(new BenchError('PROTOCOL', 'connection closed'));
    });
  }

  static open(plan: ClientPlan): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      let socket: net.Socket;
      const ready = () => {
        socket.off('error', reject);
        resolve(new RawConnection(socket));
      };
      if (plan.transport === 'unix') {
        socket = net.connect({ path: plan.address }, ready);
      } else {
        const sep = plan.address.lastIndexOf(':');
        const host = plan.address.slice(0, sep);
        const port = Number(plan.address.slice(sep + 1));
        if (plan.transport === 'tls') {
          socket = tls.connect(
            { host, port, ca: readFileSync(plan.tls!.ca), servername: 'localhost' },
            ready,
          );
          socket.setNoDelay(true);
        } else {
          socket = net.connect({ host, port, noDelay: true }, ready);
        }
      }
      socket.once('error', reject);
    });
  }

  request(whole: Buffer): Promise<Buffer> {
    if (this.#closed || this.#error) return Promise.reject(this.#unusable());
    return new Promise((resolve, reject) => {
      // With calls already in flight (pipelining), the frames of this tick leave in one writev, as
      // any pipelining client would send them; a lone call is written at once.
      if (this.#pending.length > 0 && !this.#corked) {
        this.#corked = true;
        this.#socket.cork();
        process.nextTick(this.#uncork);
      }
      this.#pending.push({ resolve, reject });
      this.#socket.write(whole);
    });
  }

  readonly #uncork = (): void => {
    this.#corked = false;
    this.#socket.uncork();
  };

  requestParts(header: Buffer, body: Uint8Array): Promise<Buffer> {
    if (this.#closed || this.#error) return Promise.reject(this.#unusable());
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      this.#socket.cork();
      this.#socket.write(header);
      this.#socket.write(body);
      this.#socket.uncork();
    });
  }

  send(whole: Buffer): void {
    if (this.#closed || this.#error) throw this.#unusable();
    this.#socket.write(whole);
  }

  close(): void {
    // No error object is made here: a stack trace per connection would tax the connection
    // scenarios of the very baseline meant to be the cheapest possible.
    this.#closed = true;
    this.#socket.destroy();
  }

  #unusable(): Error {
    return this.#error ?? new BenchError('PROTOCOL', 'connection closed by the client');
  }

  #fail(err: Error): void {
    this.#error ??= err;
    for (const p of this.#pending.splice(0)) p.reject(err);
  }
}

async function connect(plan: ClientPlan): Promise<ClientDriver> {
  let conn = await RawConnection.open(plan);
  return {
    pipelining: true,
    unsupported: { batched: 'a raw echo has no batching' },
    call: async () => {
      await conn.request(PING);
    },
    oneway: () => conn.send(ONEWAY),
    transfer: async (data) => {
      const reply = await conn.requestParts(frameHeader(OP_SINK, data.length), data);
      return reply.readUInt32BE(0);
    },
    reconnect: async () => {
      conn.close();
      conn = await RawConnection.open(plan);
      await conn.request(PING);
    },
    newProxyCall: async () => {
      const fresh = await RawConnection.open(plan);
      await fresh.request(PING);
      await fresh.request(PING);
      fresh.close();
    },
    openClient: async () => {
      const own = await RawConnection.open(plan);
      return {
        call: async () => {
          await own.request(PING);
        },
        close: async () => own.close(),
      };
    },
    close: async () => conn.close(),
  };
}

export const rawSystem: NodeSystem = { startServer, connect };
