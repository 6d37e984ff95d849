// The engine compliance suite over the in-process memory transport (no sockets).
import { MemoryNetwork, memoryTransport } from '@cinder/transport';
import { engineCompliance } from './engine-compliance.js';

engineCompliance('memory', () => {
  const transport = memoryTransport({ network: new MemoryNetwork() });
  return { server: transport, client: transport, listen: () => ({ host: '127.0.0.1' }) };
});
