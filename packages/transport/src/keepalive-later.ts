// A client's TCP keepalive, switched on once its connection has lived a step (one to two seconds)
// rather than when it connects. Switching it on is a call into the socket and four setsockopt
// system calls (SO_KEEPALIVE, then the idle time, probe interval and probe count, as libuv sets
// them): a few percent of everything a short connection costs its client. Probes start only after
// the idle delay, so a connection closed within its first seconds never needed them, and one that
// lives on has them at most two steps later than if they had been set at connect. That shift is
// taken only where it is small against the delay (MIN_DELAY_MS); shorter delays are set at connect.
// (Accepted sockets inherit keepalive from their listener, set once: nothing to save there.)
import type { Socket } from 'node:net';
import { TickList, type TickNode } from '@cinder/core';
import type { SocketTuning } from './stream-transport.js';

/** One step: a connection gets keepalive at the second tick after it joined, 1–2 steps after. */
export const KEEPALIVE_LATER_STEP_MS = 1000;
/** Delays shorter than this are set at connect (OS default, 0, counts as long: two hours on Linux). */
export const KEEPALIVE_LATER_MIN_DELAY_MS = 10_000;

/** The idle delay a tuning asks for (ms; 0 = the OS default). */
export function keepAliveDelayMs(tuning: SocketTuning): number {
  return tuning.keepAliveInitialDelayMs ?? 60_000;
}

/** Whether a client socket with this tuning gets keepalive later (a KeepAliveLater), not at connect. */
export function defersKeepAlive(tuning: SocketTuning): boolean {
  if (!(tuning.keepAlive ?? true)) return false;
  const delay = keepAliveDelayMs(tuning);
  return delay === 0 || delay >= KEEPALIVE_LATER_MIN_DELAY_MS;
}

/**
 * Client sockets waiting for keepalive, in connecting order, on one coarse interval (unref'd, and
 * stopped while none wait): a connection joins when it is made and leaves when it closes or gets
 * keepalive — one small node and O(1) each way, no timer of its own.
 */
export class KeepAliveLater {
  readonly delayMs: number;
  readonly #waiting: TickList<Socket>;

  constructor(delayMs: number) {
    this.delayMs = delayMs;
    this.#waiting = new TickList(KEEPALIVE_LATER_STEP_MS, 2, (list) => {
      for (let node = list.first; node !== null && list.tick - node.joined >= 2; node = list.first) {
        list.remove(node);
        const socket = node.value;
        if (!socket.destroyed) socket.setKeepAlive(true, delayMs);
      }
    });
  }

  /** Sockets waiting now (for tests and diagnostics). */
  get size(): number {
    return this.#waiting.size;
  }

  /** Has `socket` get keepalive in 1–2 steps; `cancel` the node when the socket closes first. */
  add(socket: Socket): TickNode<Socket> {
    return this.#waiting.add(socket);
  }

  /** Takes a socket off the list (idempotent). */
  static cancel(node: TickNode<Socket>): void {
    node.list?.remove(node);
  }
}
