// Checks of the message fields both encoders share. Bad values are the caller's bug, but they must
// surface as a typed error before any byte is written, never as a silently wrapped number.
import { ProtocolError } from '@cinder/core';
import { CORRELATION_ID_SIZE } from './constants.js';
import type { Message } from './message.js';

/** Validates type, seq, flags range, correlation id and payload of a message about to be sent. */
export function checkMessageFields(m: Message): void {
  const { type, seq, flags } = m;
  if (!(type >= 1 && type <= 6 && (type | 0) === type))
    throw new ProtocolError(`unknown message type ${type}`);
  if (!(seq >= 0 && seq <= 0xffff && (seq | 0) === seq))
    throw new ProtocolError(`seq must be a u16, got ${seq}`);
  if (!(flags >= 0 && flags <= 0xffff && (flags | 0) === flags)) {
    throw new ProtocolError(`flags must be a u16, got ${flags}`);
  }
  const corr = m.correlationId;
  if (corr !== null && (!(corr instanceof Uint8Array) || corr.length !== CORRELATION_ID_SIZE)) {
    throw new ProtocolError(`correlation id must be ${CORRELATION_ID_SIZE} bytes`);
  }
  if (!(m.payload instanceof Uint8Array)) throw new ProtocolError('payload must be bytes');
}
