// The file-system side of listening on a Unix socket path: a socket file left behind by a dead
// process is removed (after checking that nothing answers on it), permissions are applied after
// bind, and the file is removed again on close. Abstract names have no file and skip all of this.
import { chmod, lstat, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { CommunicationError } from '@cinder/core';

/** How long the liveness probe of an existing socket file may take. */
const PROBE_TIMEOUT_MS = 1000;

/**
 * Makes `path` free for bind(): nothing there is fine; a socket file nobody listens on is removed;
 * a live socket or any other kind of file is refused (we never delete what is not ours to delete).
 */
export async function clearStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new CommunicationError(`cannot inspect ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (!isSocket) {
    throw new CommunicationError(`cannot listen on ${path}: the path exists and is not a socket`);
  }
  const state = await probe(path);
  if (state === 'live') {
    throw new CommunicationError(`address already in use: ${path} (another process is listening)`);
  }
  if (state === 'stale') {
    try {
      await unlink(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new CommunicationError(`cannot remove stale socket ${path}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
  }
}

function probe(path: string): Promise<'live' | 'stale' | 'gone'> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path });
    const finish = (result: 'live' | 'stale' | 'gone' | Error) => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.destroy();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    // A listener whose accept queue is full does not answer in time: treat it as live, not stale.
    const timer = setTimeout(() => finish('live'), PROBE_TIMEOUT_MS);
    socket.once('connect', () => finish('live'));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') finish('stale');
      else if (err.code === 'ENOENT') finish('gone');
      else {
        finish(
          new CommunicationError(`cannot probe existing socket ${path}: ${err.message}`, { cause: err }),
        );
      }
    });
  });
}

export async function applySocketMode(path: string, mode: number): Promise<void> {
  try {
    await chmod(path, mode);
  } catch (err) {
    throw new CommunicationError(
      `cannot set mode ${mode.toString(8)} on ${path}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/** Identity of the socket file we bound, so close() never removes a successor's file. */
export interface SocketFileId {
  dev: number;
  ino: number;
}

export async function socketFileId(path: string): Promise<SocketFileId | null> {
  try {
    const st = await lstat(path);
    return { dev: st.dev, ino: st.ino };
  } catch {
    return null;
  }
}

/** Removes the socket file if it is still the one we bound; a file already gone is fine. */
export async function removeSocketFile(path: string, id: SocketFileId | null): Promise<void> {
  try {
    const st = await lstat(path);
    if (id && (st.dev !== id.dev || st.ino !== id.ino)) return;
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
