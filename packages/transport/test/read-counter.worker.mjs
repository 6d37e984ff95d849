// A raw reader on its own thread, for the write-coalescing test: it listens (plain or TLS), counts
// the 'data' events of the first connection and reports once the expected bytes have arrived.
// Running on another thread is the point: it reads while the sender writes, so separate writes
// would show up as separate reads instead of being merged while the test's thread is busy.
import net from 'node:net';
import tls from 'node:tls';
import { parentPort, workerData } from 'node:worker_threads';

const { endpoint, tlsOptions, expectedBytes } = workerData;
const server = tlsOptions ? tls.createServer(tlsOptions) : net.createServer();
server.on(tlsOptions ? 'secureConnection' : 'connection', (socket) => {
  let reads = 0;
  let bytes = 0;
  socket.on('data', (chunk) => {
    reads++;
    bytes += chunk.length;
    if (bytes >= expectedBytes) {
      parentPort.postMessage({ reads, bytes });
      socket.destroy();
    }
  });
  socket.on('error', () => {});
});
server.on('error', (err) => parentPort.postMessage({ error: String(err) }));
const onListening = () => {
  const address = server.address();
  parentPort.postMessage({ listening: typeof address === 'string' ? { path: address } : address });
};
if (endpoint.kind === 'tcp') server.listen({ host: endpoint.host, port: endpoint.port }, onListening);
else server.listen({ path: endpoint.path }, onListening);
parentPort.on('message', (m) => {
  if (m === 'close') server.close(() => parentPort.postMessage({ closed: true }));
});
