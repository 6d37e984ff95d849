// The broadcast responder: answers the UDP datagram `GET_NSURI` with the name server's URI as
// ISO-8859-1 text, exactly as Pyro's BroadcastServer does, so Pyro's `locate_ns()` and Cinder's
// `locateNameServer()` find the name server without knowing its host. Every other datagram is
// ignored. A name server bound to 0.0.0.0 answers with the address of the interface that faces
// the requester, since 0.0.0.0 is useless to the client.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { componentLogger, type Logger, URI } from '@cinder/core';

export interface BroadcastResponderOptions {
  /** The URI to answer with (the name server's internal, non-NAT URI, as Pyro does). */
  uri: URI;
  /** Address to bind (default all IPv4 interfaces; an IPv6 address binds a udp6 socket). */
  host?: string | null | undefined;
  /** UDP port (default 9091, Pyro's NS_BCPORT; 0 picks a free port). */
  port?: number | undefined;
  /** SO_REUSEADDR, so a restarted name server can bind at once (default true). */
  reuseAddr?: boolean | undefined;
  logger?: Logger | undefined;
}

const REQUEST = Buffer.from('GET_NSURI', 'latin1');
// Answers computed for wildcard-bound servers, per requester address; bounded so a flood of
// spoofed sources cannot grow it without limit.
const MAX_CACHED_INTERFACES = 256;

function isWildcard(host: string | null): boolean {
  return host === '0.0.0.0' || host === '::';
}

/** The local address the kernel would use to reach `address` (no packet is sent). */
function interfaceFacing(address: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const probe = createSocket(isIPv6(address) ? 'udp6' : 'udp4');
    const done = (value: string | undefined) => {
      probe.close();
      resolve(value);
    };
    probe.once('error', () => done(undefined));
    try {
      probe.connect(9, address, () => {
        try {
          done(probe.address().address);
        } catch {
          done(undefined);
        }
      });
    } catch {
      done(undefined);
    }
  });
}

export class BroadcastResponder implements AsyncDisposable {
  readonly uri: URI;
  /** The bound address. */
  readonly host: string;
  /** The bound UDP port. */
  readonly port: number;
  readonly #socket: Socket;
  readonly #logger: Logger;
  readonly #interfaces = new Map<string, Buffer>();
  readonly #answer: Buffer;
  #closed = false;

  private constructor(socket: Socket, uri: URI, logger: Logger) {
    this.#socket = socket;
    this.uri = uri;
    this.#logger = logger;
    this.#answer = Buffer.from(uri.toString(), 'latin1');
    const { address, port } = socket.address();
    this.host = address;
    this.port = port;
    socket.on('message', (data, rinfo) => this.#onMessage(data, rinfo));
    // A failed send (unreachable requester…) must not take the name server down.
    socket.on('error', (err) => this.#logger.debug({ err }, 'broadcast responder socket error'));
  }

  /** Binds the UDP socket and starts answering. */
  static async start(options: BroadcastResponderOptions): Promise<BroadcastResponder> {
    const host = options.host ?? '0.0.0.0';
    const socket = createSocket({
      type: isIPv6(host) ? 'udp6' : 'udp4',
      reuseAddr: options.reuseAddr ?? true,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.port ?? 9091, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const responder = new BroadcastResponder(
      socket,
      options.uri,
      componentLogger(options.logger, 'ns-broadcast'),
    );
    responder.#logger.info(
      { location: responder.locationString, uri: options.uri.toString() },
      'broadcast responder running',
    );
    return responder;
  }

  get locationString(): string {
    return isIPv6(this.host) ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  #onMessage(data: Buffer, rinfo: RemoteInfo): void {
    if (this.#closed || !data.equals(REQUEST)) return;
    if (!isWildcard(this.uri.host)) {
      this.#reply(this.#answer, rinfo);
      return;
    }
    const cached = this.#interfaces.get(rinfo.address);
    if (cached) {
      this.#reply(cached, rinfo);
      return;
    }
    interfaceFacing(rinfo.address).then(
      (address) => {
        let answer = this.#answer;
        if (address !== undefined) {
          answer = Buffer.from(
            URI.forObject(this.uri.object, { host: address, port: this.uri.port! }).toString(),
            'latin1',
          );
          if (this.#interfaces.size >= MAX_CACHED_INTERFACES) this.#interfaces.clear();
          this.#interfaces.set(rinfo.address, answer);
        }
        this.#reply(answer, rinfo);
      },
      (err: unknown) => this.#logger.debug({ err }, 'could not answer a broadcast'),
    );
  }

  #reply(answer: Buffer, rinfo: RemoteInfo): void {
    if (this.#closed) return;
    this.#logger.debug({ from: `${rinfo.address}:${rinfo.port}` }, 'answering GET_NSURI');
    this.#socket.send(answer, rinfo.port, rinfo.address, () => {});
  }

  /** Stops answering and closes the socket. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
