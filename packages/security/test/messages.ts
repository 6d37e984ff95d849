// Message builders for the authentication tests, and a deep copy so a "captured" message can be
// replayed after the original was consumed.
import { type Message, MsgType, SerializerId } from '@cinder/protocol';

const text = new TextEncoder();

export function msg(type: number, fields: Partial<Message> = {}): Message {
  return {
    type,
    flags: 0,
    seq: 0,
    serializerId: SerializerId.JSON,
    correlationId: null,
    annotations: null,
    payload: new Uint8Array(0),
    ...fields,
  };
}

export function ping(seq = 0): Message {
  return msg(MsgType.PING, { seq, serializerId: SerializerId.PING, payload: text.encode('ping') });
}

export function pong(request: Message): Message {
  return msg(MsgType.PING, {
    seq: request.seq,
    serializerId: request.serializerId,
    payload: text.encode('pong'),
  });
}

export function connect(object = 'test.thing', handshake: unknown = 'hello'): Message {
  return msg(MsgType.CONNECT, { payload: text.encode(JSON.stringify({ handshake, object })) });
}

export function connectOk(seq = 0): Message {
  return msg(MsgType.CONNECTOK, {
    seq,
    flags: 0x40,
    correlationId: new Uint8Array(16).fill(7),
    payload: text.encode('{"handshake":"hello","meta":{"methods":["add"],"oneway":[],"attrs":[]}}'),
  });
}

export function invoke(seq: number, method = 'add', params: unknown[] = [1, 2]): Message {
  return msg(MsgType.INVOKE, {
    seq,
    payload: text.encode(JSON.stringify({ object: 'test.thing', method, params, kwargs: {} })),
  });
}

export function result(seq: number, value: unknown): Message {
  return msg(MsgType.RESULT, {
    seq,
    flags: 0x40,
    correlationId: new Uint8Array(16).fill(9),
    payload: text.encode(JSON.stringify(value)),
  });
}

export function clone(m: Message): Message {
  return {
    ...m,
    correlationId: m.correlationId ? m.correlationId.slice() : null,
    annotations: m.annotations ? new Map([...m.annotations].map(([k, v]) => [k, v.slice()])) : null,
    payload: m.payload.slice(),
  };
}
