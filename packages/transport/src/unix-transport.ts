// Unix domain sockets: a file path (stale files of dead processes are cleared, `socketMode` is
// applied, the file is removed on close) or a Linux abstract name (a path starting with `\0`).
import { connect, createServer } from 'node:net';
import { type DirectReads, onreadOption } from './direct-reads.js';
import { streamTransport } from './stream-transport.js';
import type { Endpoint, Transport } from './transport.js';

// Nothing to tune: Nagle and keepalive do not exist on Unix sockets.
export type UnixTransportInit = {};

export function unixTransport(_init: UnixTransportInit = {}): Transport {
  return streamTransport({
    kind: 'unix',
    endpointKinds: ['unix'],
    tuning: {},
    acceptEvent: 'connection',
    readyEvent: 'connect',
    createServer: () => createServer({ allowHalfOpen: false }),
    directReads: true,
    createSocket: (endpoint: Endpoint, _options, reads: DirectReads) => {
      const { path } = endpoint as Extract<Endpoint, { kind: 'unix' }>;
      return connect({ path, allowHalfOpen: false, onread: onreadOption(reads) });
    },
  });
}
