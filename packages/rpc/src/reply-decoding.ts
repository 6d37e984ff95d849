// What a RESULT means to the caller: the decoded value, the remote exception thrown, or the start
// of a Pyro item stream (flagged ITEMSTREAMRESULT, which Pyro also flags as an exception).
import { ProtocolError, RemoteError, SerializeError } from '@cinder/core';
import { Flags, type Message } from '@cinder/protocol';
import type { CodecHooks, Serializer } from '@cinder/serializers';
import { StreamStart } from './pull-stream.js';

/** Decodes a reply: returns the value, or throws the remote exception. */
export function decodeReply(
  reply: Message,
  serializer: Serializer,
  hooks: CodecHooks | undefined,
  makeStream: ((start: StreamStart) => unknown) | undefined,
): unknown {
  if (reply.serializerId !== serializer.id) {
    throw new SerializeError(`invalid serializer in response: ${reply.serializerId}`);
  }
  if ((reply.flags & Flags.ITEMSTREAMRESULT) !== 0) {
    // checked before EXCEPTION: Pyro flags a stream start as an exception too
    const id = reply.annotations?.get('STRM');
    if (id === undefined)
      throw new ProtocolError('result is a stream, but the daemon sent no stream id (streaming disabled?)');
    const start = new StreamStart(Buffer.from(id).toString('latin1'));
    return makeStream ? makeStream(start) : start;
  }
  const value = serializer.decode(reply.payload, hooks);
  if ((reply.flags & Flags.EXCEPTION) !== 0) {
    if (value instanceof Error) throw value;
    throw new RemoteError({ remoteType: 'unknown', remoteMessage: String(value), args: [value] });
  }
  return value;
}
