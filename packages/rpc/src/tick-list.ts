// The handshake deadline of connections still shaking hands, over @cinder/core's coarse timers
// (tick-list.ts there: one interval per duration walks a list instead of a Node timer per connection).
import { CoarseDeadlines, type TickNode } from '@cinder/core';

export { TickList, type TickNode } from '@cinder/core';

const closures = new CoarseDeadlines<() => void>((expire) => expire());

/**
 * Calls `expire` once `ms` have passed (at most an eighth of `ms` later), unless the returned
 * node is removed first with `cancelDeadline`. Every deadline of the same `ms` shares one interval.
 */
export function addDeadline(ms: number, expire: () => void): TickNode<() => void> {
  return closures.add(ms, expire);
}

/** Cancels a deadline of `addDeadline` (idempotent). */
export function cancelDeadline(node: TickNode<() => void>): void {
  closures.cancel(node);
}
