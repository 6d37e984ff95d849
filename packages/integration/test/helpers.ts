// Shared pieces of the integration tests: start the fixture daemon in its own process.
import { fileURLToPath } from 'node:url';
import { type StartedChild, startChild } from '@cinder/test-utils';

export const serverScript = fileURLToPath(new URL('./fixtures/server.ts', import.meta.url));

export interface RunningServer {
  child: StartedChild;
  uri: string;
  partlyUri: string;
}

/** Starts the fixture daemon (`tcp [host] [port]`, `unix <path>`, `tls`) and waits for its URIs. */
export async function startServer(args: string[], env: Record<string, string> = {}): Promise<RunningServer> {
  const child = startChild(serverScript, args, { env });
  const [, uri] = (await child.waitForLine(/^URI = (.+)$/, 20_000)) as unknown as [string, string];
  const [, partlyUri] = (await child.waitForLine(/^URI2 = (.+)$/)) as unknown as [string, string];
  return { child, uri, partlyUri };
}
