// Liveness between Cinder peers: while this end waits for the peer on a pipelined connection —
// calls waiting for replies, pushed streams waiting for their next item or for the consumer's
// credit — a PING goes out every `intervalMs`; a peer that does not answer one within `intervalMs`
// (frozen, vanished without a FIN, its host gone) fails the connection, and with it every call and
// stream waiting on it, within about twice the interval instead of never. Python Pyro peers and
// connections without pipelining get no heartbeat: there a PING waits behind the call in progress,
// so it proves nothing (their bound is the call's own timeoutMs / commTimeoutMs).
import { TimeoutError } from '@cinder/core';
import type { Session } from './session.js';

/** Starts the heartbeat of a session whose handshake is done; it stops by itself when the session closes. */
export function startHeartbeat(session: Session, intervalMs: number): void {
  if (!(intervalMs > 0) || !session.multiplexed || session.capabilities === 0) return;
  let waiting = false;
  const timer = setInterval(() => {
    if (session.isClosed) {
      clearInterval(timer);
      return;
    }
    if (waiting || !session.awaitsPeer) return;
    waiting = true;
    session.ping({ timeoutMs: intervalMs }).then(
      () => {
        waiting = false;
      },
      (err: unknown) => {
        waiting = false;
        if (session.isClosed) return;
        session.fail(
          new TimeoutError(
            `${session.connection.remoteAddress} did not answer a heartbeat within ${intervalMs} ms`,
            { cause: err },
          ),
        );
      },
    );
  }, intervalMs);
  timer.unref?.(); // optional: a browser's timers are numbers
  // stopped when the session closes: a closed session's timer would otherwise keep the session, its
  // connection and socket alive until its next tick (10 s by default), for the GC to copy meanwhile
  session.onShutdown(() => clearInterval(timer));
}
