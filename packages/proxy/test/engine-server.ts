// A server made of the engine alone (@cinder/rpc: the server half of the handshake, a Session, the
// exposure rules), listening on the memory transport: what the proxy's own tests call, so they
// need neither a daemon (a package beside this one) nor sockets. Plain calls only: no instance
// modes, batches, streams or callbacks (the daemon's; the engine compliance suite in
// packages/integration covers those with a real daemon).
import { silentLogger } from '@cinder/core';
import { exposureOf, type HandshakeContext } from '@cinder/rpc';
import { invokeExposed, ServerHandshake, Session } from '@cinder/rpc/internal';
import { createSerializers } from '@cinder/serializers';
import { type Listener, MemoryNetwork, memoryTransport, type Transport } from '@cinder/transport';

export interface EngineServer {
  /** The transport a proxy must be given to reach this server. */
  readonly transport: Transport;
  /** `PYRO:<id>@<address>` of a served object. */
  uri(id: string): string;
  /** The port it listens on (a new server may take it again after close). */
  readonly port: number;
  /** Client connections open now. */
  readonly connectionCount: number;
  /** Stops listening and cuts every connection (calls in progress end with them). */
  close(): Promise<void>;
}

export interface EngineServerOptions {
  /** Offer pipelining (a Cinder daemon's default) or serve one call at a time like Pyro. */
  multiplex?: boolean;
  /** Share an address space with other servers (default: one of its own). */
  network?: MemoryNetwork;
  /** Listen on this port (default: a free one). */
  port?: number;
  /** Checks a client's handshake: returns the response (or a promise of it), throws to refuse. */
  validateHandshake?: (context: HandshakeContext) => unknown;
}

export async function startEngineServer(
  objects: Record<string, object>,
  options: EngineServerOptions = {},
): Promise<EngineServer> {
  const transport = memoryTransport({ network: options.network ?? new MemoryNetwork() });
  const serializers = { 4: createSerializers({ dialect: 4 }), 5: createSerializers({ dialect: 5 }) };
  const served = new Map(Object.entries(objects));
  const settings = {
    logger: silentLogger,
    serializerSets: serializers,
    serializersAccepted: ['cbor', 'json', 'msgpack', 'serpent', 'marshal'],
    sharedKey: undefined,
    multiplex: options.multiplex ?? true,
    handshakeTimeoutMs: 5000,
    heartbeatMs: 0,
    streamCredit: 64,
    validate: options.validateHandshake,
  };
  const listener: Listener = await transport.listen(
    {
      endpoint: { kind: 'tcp', host: '127.0.0.1', port: options.port ?? 0 },
      framing: { versions: [502, 48], maxMessageSize: 1 << 26 },
    },
    (connection) => {
      const handshake = new ServerHandshake(connection, {
        settings,
        hasObject: (id) => served.has(id),
        metadataOf: (id) => {
          const target = served.get(id);
          return target ? exposureOf(target).metadata : undefined;
        },
        openSession: (accepted) =>
          new Session({
            connection,
            serializers: serializers[accepted.dialect],
            logger: silentLogger,
            server: {
              dispatch: ({ call }) => {
                const target = served.get(call.object);
                if (!target) throw new Error(`unknown object ${call.object}`);
                return invokeExposed(target, exposureOf(target), call.method, call.params, call.kwargs);
              },
            },
            onControl: (m) => accepted.lateMessage(m),
            onBadMessage: (m, err) => accepted.badMessage(m, err),
            onClose: () => accepted.sessionClosed(),
          }),
        ready: () => {},
        ended: () => {},
      });
      connection.setHandler(handshake);
    },
  );
  const endpoint = listener.endpoint;
  if (endpoint.kind !== 'tcp') throw new Error('host:port endpoint expected');
  return {
    transport,
    uri: (id) => `PYRO:${id}@${endpoint.host}:${endpoint.port}`,
    port: endpoint.port,
    get connectionCount() {
      return listener.connections.size;
    },
    close: () => listener.close(),
  };
}
