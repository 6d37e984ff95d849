// Pyro5 conformance (protocol 502) from the wire vectors, since Pyro5 itself is not installed:
// every exchange of pyro5-{json,serpent,msgpack,marshal}.jsonl is replayed against a Cinder daemon
// serving the TypeScript port of the vectors' Thing, and its answers compared as each line says.
// Where Cinder differs on purpose (or cannot do otherwise) the difference is listed below.
import { Flags, MsgType } from '@cinder/cinder';
import { decodeMessage } from '@cinder/protocol';
import { ExceptionWrapper } from '@cinder/serializers';
import { frameBytes } from '@cinder/test-utils';
import { sampleValue } from './interop-objects.js';
import { vectorConformance, vectorSerializers } from './interop-vector-suite.js';
import { answersWith, type Deviation, sameWithoutCorrelation } from './interop-vectors.js';

const { registry, sets } = vectorSerializers();

/** Where Cinder's daemon answers differently from Pyro5's, and why (listed in docs/interop.md). */
const SERVER_DEVIATIONS: readonly Deviation[] = [
  {
    scenarios: ['result_float_integral', 'echo_arg_float_integral'],
    expect: 'decoded',
    why: 'JavaScript cannot tell 2.0 from 2: an integral number is written as an int',
  },
  {
    scenarios: ['result_bytes'],
    files: ['pyro5-json'],
    steps: [4],
    expect: answersWith(sets, sampleValue('bytes'), Flags.CORR_ID),
    why: "Pyro5's json cannot write bytes (SerializeError, then it closes); Cinder writes the base64 dict serpent uses",
  },
  {
    scenarios: ['result_bytes'],
    files: ['pyro5-json'],
    steps: [5],
    expect: 'skip',
    why: 'no SerializeError, so the connection stays open',
  },
  {
    scenarios: ['echo_arg_bytes'],
    files: ['pyro5-serpent'],
    expect: 'decoded',
    why: "a received base64 bytes dict becomes bytes again, and goes back in serpent's bytes layout",
  },
  {
    scenarios: ['echo_arg_dict_int_keys'],
    files: ['pyro5-msgpack'],
    steps: [4],
    expect: answersWith(sets, sampleValue('dict_int_keys'), Flags.CORR_ID),
    why: "Python's msgpack reader refuses maps with int keys in arguments; Cinder reads them (as a Map)",
  },
  {
    scenarios: ['stream_iterate', 'stream_close_early'],
    steps: [4],
    expect: 'decoded',
    why: "the stream-start marker carries Cinder's stack as its traceback where Pyro sends None",
  },
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
  {
    scenarios: ['private_attribute_refused', 'unexposed_method_refused', 'unknown_method'],
    steps: [3, 4],
    expect: 'skip',
    why: "the proxy refuses names its metadata does not list without sending them (as Pyro's proxy does; the capture forced them with _pyroInvoke)",
  },
  {
    files: ['pyro5-serpent'],
    scenarios: ['stream_iterate', 'stream_close_early'],
    match: (line) => line.direction === 'c2s' && line.header?.msg_type === MsgType.INVOKE && line.step > 3,
    expect: 'decoded-lists',
    why: "stream calls send their one argument as a tuple, as every call does; Pyro's stream iterator passes a list",
  },
  {
    scenarios: ['compressed_payloads'],
    steps: [5],
    expect: 'decoded',
    why: "Node's zlib (a different build) compresses some inputs to other, equally valid bytes",
  },
  {
    scenarios: ['echo_arg_float_integral'],
    steps: [3],
    expect: 'decoded',
    why: 'JavaScript cannot tell 2.0 from 2: an integral number is written as an int',
  },
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
