// Pyro5 conformance (protocol 502) from the wire vectors, since Pyro5 itself is not installed:
// every exchange of pyro5-{json,serpent,msgpack,marshal}.jsonl is replayed against a Cinder daemon
// serving the TypeScript port of the vectors' Thing, and its answers compared as each line says.
// Where Cinder differs on purpose (or cannot do otherwise) the difference is listed below.
import { Flags, MsgType } from '@cinder/cinder';
import { decodeMessage } from '@cinder/protocol';
import { ExceptionWrapper } from '@cinder/serializers';
import { frameBytes } from '@cinder/test-utils';
import {
  commonClientDeviations,
  commonServerDeviations,
  vectorConformance,
  vectorSerializers,
} from './interop-vector-suite.js';
import { answersWith, type Deviation, sameWithoutCorrelation } from './interop-vectors.js';

const { registry, sets } = vectorSerializers();

/** Where Cinder's daemon answers differently from Pyro5's, and why (listed in docs/interop.md). */
const SERVER_DEVIATIONS: readonly Deviation[] = [
  ...commonServerDeviations(sets, 'pyro5', ['pyro5-json']),
  {
    scenarios: ['message_too_large_connect'],
    steps: [2],
    expect: sameWithoutCorrelation,
    why: 'Cinder always sends a correlation id on a Pyro5 CONNECTFAIL; Pyro5 does so depending on its worker thread',
  },
  {
    scenarios: ['raw_marshal_batch'],
    steps: [4],
    expect: answersWith(
      sets,
      [2, new ExceptionWrapper(new RangeError('bad value'))],
      Flags.CORR_ID | Flags.BATCH,
    ),
    why: "Pyro5's marshal cannot write the batch's _ExceptionWrapper ('unmarshallable object'); Cinder's can",
  },
  {
    files: ['pyro5-marshal'],
    match: (line) => line.header?.msg_type === MsgType.CONNECTOK || line.scenario === 'daemon_get_metadata',
    expect: 'decoded',
    why: 'metadata are lists in declaration order; Pyro sends sets (marshal orders them by their bytes)',
  },
  {
    files: ['pyro5-marshal'],
    expect: 'same-size',
    why: 'CPython flags marshal objects for back-references by their reference count (FLAG_REF, 0x80); Cinder by type',
  },
];

// -------------------------------------------------------------------------------------------------
// The client side: a Cinder proxy drives the same scenarios against a fake server that answers
// with the recorded Pyro5 server frames; its frames must be the ones Pyro5's proxy sent.

/** Where Cinder's proxy sends something other than Pyro5's proxy, and why. */
const CLIENT_DEVIATIONS: readonly Deviation[] = [
  {
    files: ['pyro5-marshal'],
    scenarios: ['batch_oneway'],
    steps: [3, 4],
    expect: 'skip',
    why: "Pyro5's marshal client fails on the batch and then calls last_oneway(); Cinder sends the batch",
  },
  ...commonClientDeviations('pyro5'),
  {
    scenarios: ['echo_arg_bytes'],
    files: ['pyro5-json'],
    match: (line) => line.direction === 'c2s' && line.header?.msg_type === MsgType.INVOKE,
    expect: 'skip',
    why: "Pyro5's json cannot send bytes; Cinder sends the base64 dict serpent uses",
  },
  {
    scenarios: ['ping_message'],
    steps: [4],
    expect: 'skip',
    reply: (request, line) => {
      const pong = Buffer.from(frameBytes(line));
      request.copy(pong, 10, 10, 12); // the recorded answer, for the request's sequence number
      return pong;
    },
    why: "Cinder's PING takes the next sequence number; Pyro's ping helper sends seq 0",
  },
  {
    scenarios: ['ping_message'],
    steps: [3],
    expect: (actual) => {
      if (typeof actual === 'string') return `expected a PING, the client ${actual}`;
      const m = decodeMessage(actual);
      return m.type === MsgType.PING && m.serializerId === 42
        ? undefined
        : `not a PING: ${actual.toString('hex')}`;
    },
    why: "Cinder's PING takes the next sequence number; Pyro's ping helper sends seq 0",
  },
  {
    scenarios: ['correlation_id'],
    steps: [1],
    expect: sameWithoutCorrelation,
    why: 'a correlation id is per call in Cinder ($call option), so the CONNECT carries none',
  },
  {
    files: ['pyro5-marshal'],
    match: (line) => line.direction === 'c2s',
    expect: 'same-size',
    why: 'CPython flags marshal objects for back-references by reference count (FLAG_REF); Cinder by type',
  },
];

vectorConformance({
  peer: 'Pyro5',
  protocol: 502,
  files: ['pyro5-json', 'pyro5-serpent', 'pyro5-msgpack', 'pyro5-marshal'],
  registry,
  sets,
  serverDeviations: SERVER_DEVIATIONS,
  clientDeviations: CLIENT_DEVIATIONS,
});
