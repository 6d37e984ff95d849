// Pyro4 conformance (protocol 48) from the wire vectors: every exchange of
// pyro4-{json,serpent,msgpack,hmac-json}.jsonl replayed against a Cinder daemon (the server side)
// and a Cinder proxy driven against the recorded server frames (the client side). The live Pyro4
// peer tests cover the same ground with real Python processes; these pin down the bytes.
import { Daemon, type DaemonOptions, Flags, MsgType } from '@cinder/cinder';
import { decodeMessage, pyro4Checksum } from '@cinder/protocol';
import { createSerializers } from '@cinder/serializers';
import { frameBytes, type VectorFile, vectorScenarios } from '@cinder/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { actionFor, type ClientContext } from './interop-client-actions.js';
import { sampleValue, Thing, vectorRegistry } from './interop-objects.js';
import {
  answersWith,
  type Deviation,
  fakeServer,
  refusesWith,
  replayAgainstServer,
  sameWithoutCorrAnnotation,
} from './interop-vectors.js';

const FILES: readonly VectorFile[] = ['pyro4-json', 'pyro4-serpent', 'pyro4-msgpack', 'pyro4-hmac-json'];
const HMAC_KEY = Buffer.from('secret');

const registry = vectorRegistry();
const sets = {
  4: createSerializers({ dialect: 4, registry }),
  5: createSerializers({ dialect: 5, registry }),
};

/** Where Cinder's daemon answers differently from Pyro4's, and why (listed in docs/interop.md). */
const SERVER_DEVIATIONS: readonly Deviation[] = [
  {
    scenarios: ['result_float_integral', 'echo_arg_float_integral'],
    expect: 'decoded',
    why: 'JavaScript cannot tell 2.0 from 2: an integral number is written as an int',
  },
  {
    scenarios: ['result_bytes'],
    files: ['pyro4-json', 'pyro4-hmac-json'],
    steps: [4],
    expect: answersWith(sets, sampleValue('bytes'), Flags.CORR_ID, HMAC_KEY),
    why: "Pyro4's json cannot write bytes (SerializeError, then it closes); Cinder writes the base64 dict serpent uses",
  },
  {
    scenarios: ['result_bytes'],
    files: ['pyro4-json', 'pyro4-hmac-json'],
    steps: [5],
    expect: 'skip',
    why: 'no SerializeError, so the connection stays open',
  },
  {
    scenarios: ['echo_arg_bytes'],
    files: ['pyro4-serpent'],
    expect: 'decoded',
    why: "a received base64 bytes dict becomes bytes again, and goes back in serpent's bytes layout",
  },
  {
    scenarios: ['stream_iterate', 'stream_close_early'],
    steps: [4],
    expect: 'decoded',
    why: "the stream-start marker carries Cinder's stack as its traceback where Pyro sends None",
  },
  {
    scenarios: ['echo_arg_dict_int_keys'],
    files: ['pyro4-msgpack'],
    steps: [4],
    expect: answersWith(sets, sampleValue('dict_int_keys'), Flags.CORR_ID),
    why: "Python's msgpack reader refuses maps with int keys in arguments; Cinder reads them (as a Map)",
  },
  {
    scenarios: ['serializer_not_accepted'],
    steps: [2],
    expect: sameWithoutCorrAnnotation,
    why: 'Cinder puts a correlation id (CORR) on every Pyro4 CONNECTFAIL; Pyro4 does on all but a fresh worker thread',
  },
  {
    scenarios: ['message_too_large_connect'],
    steps: [2],
    expect: refusesWith(sets, /^message too large \(\d+, max=1000\)$/, HMAC_KEY),
    why: 'an oversized CONNECT gets a CONNECTFAIL saying so (as from Pyro5) before the close; Pyro4 just closes',
  },
  {
    scenarios: ['message_too_large_connect'],
    steps: [3],
    expect: (actual) =>
      actual === 'closed' ? undefined : `expected the daemon to close, got ${typeof actual}`,
    why: 'the close follows the CONNECTFAIL',
  },
  {
    scenarios: ['raw_bad_annotation_chunk'],
    steps: [4],
    expect: (actual) => (actual === 'closed' ? undefined : 'expected the daemon to close the connection'),
    why: 'Pyro4 does not check annotation chunk lengths (it truncates); Cinder refuses the frame and closes',
  },
  {
    scenarios: ['raw_bad_annotation_chunk'],
    steps: [5],
    expect: 'skip',
    why: 'the connection is already closed',
  },
];

const daemons = new Map<string, Promise<Daemon>>();

/** The daemon a scenario was captured against (stock, handshake, small limit, compressing, Pyro4's default serializers; HMAC per file). */
function daemonFor(scenario: string, file: VectorFile): Promise<Daemon> {
  const kind =
    scenario === 'connect_custom_handshake' || scenario === 'connect_rejected_by_validateHandshake'
      ? 'handshake'
      : scenario.startsWith('message_too_large')
        ? 'small'
        : scenario === 'compressed_payloads'
          ? 'compress'
          : scenario === 'serializer_not_accepted'
            ? 'pyro4-accepted'
            : // a bad version or tag says nothing of the protocol: only a Pyro4-only daemon answers in 48
              scenario === 'raw_bad_version_connect' || scenario === 'raw_bad_tag_connect'
              ? 'pyro4-only'
              : 'default';
  const hmac = file === 'pyro4-hmac-json';
  const key = `${kind}:${hmac}`;
  let daemon = daemons.get(key);
  if (!daemon) {
    const options: DaemonOptions = {
      host: '127.0.0.1',
      registry,
      protocols: kind === 'pyro4-only' ? [48] : [502, 48],
      ...(hmac ? { hmacKey: HMAC_KEY } : {}),
      config: {
        ...(kind === 'small' ? { maxMessageSize: 1000 } : {}),
        ...(kind === 'compress' ? { compression: true } : {}),
        ...(kind === 'pyro4-accepted' ? { serializersAccepted: ['serpent', 'marshal', 'json'] } : {}),
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
    daemons.set(key, daemon);
  }
  return daemon;
}

afterAll(async () => {
  await Promise.all([...daemons.values()].map(async (d) => (await d).close({ graceMs: 100 })));
});

describe.each(FILES)('a Cinder daemon answers the Pyro4 client frames of %s', (file) => {
  const scenarios = [...vectorScenarios(file)];
  it.each(scenarios.map(([name, lines]) => ({ name, lines })))('$name', async ({ name, lines }) => {
    const daemon = await daemonFor(name, file);
    const problems = await replayAgainstServer(lines, {
      port: (daemon.endpoint as { port: number }).port,
      sets,
      ...(file === 'pyro4-hmac-json' ? { hmacKey: HMAC_KEY } : {}),
      deviations: SERVER_DEVIATIONS,
    });
    expect(problems.join('\n')).toBe('');
  });
});

// -------------------------------------------------------------------------------------------------
// The client side.

/** Where Cinder's proxy sends something other than Pyro4's proxy, and why. */
const CLIENT_DEVIATIONS: readonly Deviation[] = [
  {
    scenarios: ['private_attribute_refused', 'unexposed_method_refused', 'unknown_method'],
    steps: [3, 4],
    expect: 'skip',
    why: "the proxy refuses names its metadata does not list without sending them (as Pyro's proxy does; the capture forced them with _pyroInvoke)",
  },
  {
    scenarios: ['echo_arg_float_integral'],
    steps: [3],
    expect: 'decoded',
    why: 'JavaScript cannot tell 2.0 from 2: an integral number is written as an int',
  },
  {
    files: ['pyro4-serpent'],
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
    scenarios: ['ping_message'],
    steps: [4],
    expect: 'skip',
    reply: (request, line) => {
      // the recorded answer for the request's sequence number (header checksum and HMAC follow it)
      const pong = Buffer.from(frameBytes(line));
      request.copy(pong, 10, 10, 12);
      const m = decodeMessage(request, line.file === 'pyro4-hmac-json' ? { hmacKey: HMAC_KEY } : {});
      const h = (o: number) => pong.readUInt16BE(o);
      pong.writeUInt16BE(pyro4Checksum(h(6), h(8), m.seq, pong.readInt32BE(12), h(16), h(18)), 22);
      return pong;
    },
    why: "Cinder's PING takes the next sequence number; Pyro's ping helper sends seq 0",
  },
  {
    scenarios: ['ping_message'],
    steps: [3],
    expect: (actual) => {
      if (typeof actual === 'string') return `expected a PING, the client ${actual}`;
      return actual.readUInt16BE(6) === MsgType.PING && actual.readUInt16BE(16) === 42
        ? undefined
        : `not a PING: ${actual.toString('hex')}`;
    },
    why: "Cinder's PING takes the next sequence number; Pyro's ping helper sends seq 0",
  },
  {
    scenarios: ['correlation_id'],
    steps: [1],
    expect: (actual, line) => {
      if (typeof actual === 'string') return `expected a CONNECT, the client ${actual}`;
      const got = decodeMessage(actual, line.file === 'pyro4-hmac-json' ? { hmacKey: HMAC_KEY } : {});
      const want = decodeMessage(
        frameBytes(line),
        line.file === 'pyro4-hmac-json' ? { hmacKey: HMAC_KEY } : {},
      );
      return Buffer.from(got.payload).equals(Buffer.from(want.payload)) && got.type === want.type
        ? undefined
        : 'the CONNECT differs beyond its CORR annotation';
    },
    why: 'a correlation id is per call in Cinder ($call option), so the CONNECT carries none',
  },
];

describe.each(FILES)('a Cinder proxy sends what Pyro4 clients sent in %s', (file) => {
  const hmac = file === 'pyro4-hmac-json';
  const serializer = hmac ? 'json' : file.slice('pyro4-'.length);
  const scenarios = [...vectorScenarios(file)].filter(([name]) => actionFor(name, file) !== undefined);
  it.each(scenarios.map(([name, lines]) => ({ name, lines })))('$name', async ({ name, lines }) => {
    const server = await fakeServer(lines, {
      sets,
      ...(hmac ? { hmacKey: HMAC_KEY } : {}),
      deviations: CLIENT_DEVIATIONS,
    });
    try {
      const ctx: ClientContext = {
        file,
        server,
        set: sets[4],
        ...(hmac ? { hmacKey: HMAC_KEY } : {}),
        serializer,
        lines,
        uri: (objectId = 'test.thing') => `PYRO:${objectId}@127.0.0.1:${server.port}`,
        options: {
          protocol: 48,
          serializer,
          registry,
          timeoutMs: 5000,
          connectTimeoutMs: 5000,
          ...(hmac ? { hmacKey: HMAC_KEY } : {}),
        },
      };
      await actionFor(name, file)!(ctx);
      expect((await server.finish()).join('\n')).toBe('');
    } finally {
      await server.close();
    }
  });
});
