// TCP over IPv4 and IPv6, including dual-stack listeners on `::` that accept IPv4 peers too.
import { connect, createServer } from 'node:net';
import { type DirectReads, onreadOption } from './direct-reads.js';
import { netClientTuning, netServerOptions, type SocketTuning, streamTransport } from './stream-transport.js';
import type { Endpoint, Transport } from './transport.js';

export interface TcpTransportInit extends SocketTuning {}

export function tcpTransport(init: TcpTransportInit = {}): Transport {
  const clientTuning = netClientTuning(init);
  return streamTransport({
    kind: 'tcp',
    endpointKinds: ['tcp'],
    tuning: init,
    acceptEvent: 'connection',
    readyEvent: 'connect',
    createServer: () => createServer(netServerOptions(init)),
    directReads: true,
    createSocket: (endpoint: Endpoint, _options, reads: DirectReads) => {
      const { host, port } = endpoint as Extract<Endpoint, { kind: 'tcp' }>;
      // one literal (no spread of the tuning and the onread option per connection)
      return connect({
        host,
        port,
        allowHalfOpen: false,
        noDelay: clientTuning.noDelay,
        keepAlive: clientTuning.keepAlive,
        keepAliveInitialDelay: clientTuning.keepAliveInitialDelay,
        onread: onreadOption(reads),
      });
    },
  });
}
