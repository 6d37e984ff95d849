// Pyro5 conformance (protocol 502) from the wire vectors, since Pyro5 itself is not installed:
// every exchange of pyro5-{json,serpent,msgpack,marshal}.jsonl is replayed against a Cinder daemon
// serving the TypeScript port of the vectors' Thing, and its answers compared as each line says.
// Where Cinder differs on purpose (or cannot do otherwise) the difference is listed below.
import { Daemon, type DaemonOptions, Flags, MsgType } from '@cinder/cinder';
import { decodeMessage } from '@cinder/protocol';
import { createSerializers, ExceptionWrapper } from '@cinder/serializers';
import { frameBytes, type VectorFile, vectorScenarios } from '@cinder/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { actionFor, type ClientContext } from './interop-client-actions.js';
import { sampleValue, Thing, vectorRegistry } from './interop-objects.js';
import {
  answersWith,
  type Deviation,
  fakeServer,
  replayAgainstServer,
  sameWithoutCorrelation,
} from './interop-vectors.js';

const FILES: readonly VectorFile[] = ['pyro5-json', 'pyro5-serpent', 'pyro5-msgpack', 'pyro5-marshal'];

const registry = vectorRegistry();
const sets = {
  4: createSerializers({ dialect: 4, registry }),
  5: createSerializers({ dialect: 5, registry }),
};

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

const daemons = new Map<string, Promise<Daemon>>();

/** The daemon a scenario was captured against: stock, custom handshake, small limit or compressing. */
function daemonFor(scenario: string): Promise<Daemon> {
  const kind =
    scenario === 'connect_custom_handshake' || scenario === 'connect_rejected_by_validateHandshake'
      ? 'handshake'
      : scenario.startsWith('message_too_large')
        ? 'small'
        : scenario === 'compressed_payloads'
          ? 'compress'
          : 'default';
  let daemon = daemons.get(kind);
  if (!daemon) {
    const options: DaemonOptions = {
      host: '127.0.0.1',
      registry,
      config: {
        ...(kind === 'small' ? { maxMessageSize: 1000 } : {}),
        ...(kind === 'compress' ? { compression: true } : {}),
      },
      ...(kind === 'handshake'
        ? {
            validateHandshake: ({ data }) => {
              if (data === 'deny-me') throw new RangeError(`handshake rejected: client sent 'deny-me'`);
              return { echo: data, server: 'vectors' };
            },
          }
        : {}),
    };
    daemon = Daemon.start(options).then((d) => {
      d.register(Thing, 'test.thing');
      return d;
    });
    daemons.set(kind, daemon);
  }
  return daemon;
}

afterAll(async () => {
  await Promise.all([...daemons.values()].map(async (d) => (await d).close({ graceMs: 100 })));
});

describe.each(FILES)('a Cinder daemon answers the Pyro5 client frames of %s', (file) => {
  const scenarios = [...vectorScenarios(file)];
  it.each(scenarios.map(([name, lines]) => ({ name, lines })))('$name', async ({ name, lines }) => {
    const daemon = await daemonFor(name);
    const port = (daemon.endpoint as { port: number }).port;
    const problems = await replayAgainstServer(lines, {
      port,
      sets,
      deviations: SERVER_DEVIATIONS,
    });
    expect(problems.join('\n')).toBe('');
  });
});

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

describe.each(FILES)('a Cinder proxy sends what Pyro5 clients sent in %s', (file) => {
  const serializer = file.slice('pyro5-'.length);
  const scenarios = [...vectorScenarios(file)].filter(([name]) => actionFor(name, file) !== undefined);
  it.each(scenarios.map(([name, lines]) => ({ name, lines })))('$name', async ({ name, lines }) => {
    const server = await fakeServer(lines, { sets, deviations: CLIENT_DEVIATIONS });
    try {
      const ctx: ClientContext = {
        file,
        server,
        set: sets[5],
        serializer,
        lines,
        uri: (objectId = 'test.thing') => `PYRO:${objectId}@127.0.0.1:${server.port}`,
        options: { protocol: 502, serializer, registry, timeoutMs: 5000, connectTimeoutMs: 5000 },
      };
      await actionFor(name, file)!(ctx);
      expect((await server.finish()).join('\n')).toBe('');
    } finally {
      await server.close();
    }
  });
});
