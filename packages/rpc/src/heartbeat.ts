// Liveness between Cinder peers: while this end waits for the peer on a pipelined connection —
// calls waiting for replies, pushed streams waiting for their next item or for the consumer's
// credit — a PING goes out every `intervalMs`; a peer that does not answer one within `intervalMs`
// (frozen, vanished without a FIN, its host gone) fails the connection, and with it every call and
// stream waiting on it, within about twice the interval instead of never. Python Pyro peers and
// connections without pipelining get no heartbeat: there a PING waits behind the call in progress,
// so it proves nothing (their bound is the call's own timeoutMs / commTimeoutMs).
import { type Link, TimeoutError } from '@cinder/core';
import type { Session } from './session.js';
import { TickList } from './tick-list.js';

/** One session's heartbeat: whether its last PING is still unanswered. */
export interface Beat {
  readonly session: Session;
  readonly intervalMs: number;
  waiting: boolean;
}

/** The sessions with a heartbeat, by interval: one shared interval each, not a timer per session. */
const beating = new Map<number, TickList<Beat>>();

/** Whether a session whose handshake is done has a heartbeat (pipelined, between Cinder peers). */
export function hasHeartbeat(session: Session): boolean {
  return session.multiplexed && session.capabilities !== 0;
}

/**
 * Starts the heartbeat of a session whose handshake is done; it stops by itself when the session
 * closes. The session joins the beating list when it first waits for its peer (now, if a first call
 * is already out): one that never waits — a connection opened and released without a call — would
 * never send a PING, so it is not listed at all (see OutgoingCalls.waiting).
 */
export function startHeartbeat(session: Session, intervalMs: number): void {
  if (!(intervalMs > 0) || !hasHeartbeat(session)) return;
  if (session.awaitsPeer) joinHeartbeat(session, intervalMs);
  else session.heartbeatMs = intervalMs;
}

/** Lists a session for the beat of `intervalMs` (until it closes). */
export function joinHeartbeat(session: Session, intervalMs: number): void {
  let list = beating.get(intervalMs);
  if (list === undefined) {
    list = new TickList(intervalMs, 1, beat);
    beating.set(intervalMs, list);
  }
  const owner = list;
  const node = owner.add({ session, intervalMs, waiting: false });
  // stopped when the session closes: a closed session must not stay listed (it would keep the
  // session, its connection and socket alive for the GC to copy meanwhile)
  session.onShutdown(() => owner.remove(node));
}

/**
 * A tick: every listed session that waits for its peer and has no PING out sends one. A session
 * joins at any point of the interval, so its first PING goes out within one interval of waiting,
 * and an unanswered one fails it one interval later: within about twice the interval, as before.
 */
function beat(list: TickList<Beat>): void {
  for (let node: Link<Beat> | null = list.first; node !== null; ) {
    const next = node.next;
    const entry = node.value;
    const session = entry.session;
    if (session.isClosed) list.remove(node);
    else heartbeatStep(entry);
    node = next;
  }
}

/**
 * One tick of one open session's heartbeat, for an owner that keeps its sessions itself (the
 * daemon walks its connections): a PING when the session waits for its peer and none is out.
 */
export function heartbeatStep(entry: Beat): void {
  if (!entry.waiting && entry.session.awaitsPeer) ping(entry);
}

function ping(entry: Beat): void {
  const { session, intervalMs } = entry;
  entry.waiting = true;
  session.ping({ timeoutMs: intervalMs }).then(
    () => {
      entry.waiting = false;
    },
    (err: unknown) => {
      entry.waiting = false;
      if (session.isClosed) return;
      session.fail(
        new TimeoutError(
          `${session.connection.remoteAddress} did not answer a heartbeat within ${intervalMs} ms`,
          {
            cause: err,
          },
        ),
      );
    },
  );
}
