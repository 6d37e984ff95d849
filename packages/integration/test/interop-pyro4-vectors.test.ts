// Pyro4 conformance (protocol 48) from the wire vectors: every exchange of
// pyro4-{json,serpent,msgpack,hmac-json}.jsonl replayed against a Cinder daemon (the server side)
// and a Cinder proxy driven against the recorded server frames (the client side). The live Pyro4
// peer tests cover the same ground with real Python processes; these pin down the bytes.
import { MsgType } from '@cinder/cinder';
import { decodeMessage, pyro4Checksum } from '@cinder/protocol';
import { frameBytes } from '@cinder/test-utils';
import {
  commonClientDeviations,
  commonServerDeviations,
  vectorConformance,
  vectorSerializers,
} from './interop-vector-suite.js';
import { type Deviation, refusesWith, sameWithoutCorrAnnotation } from './interop-vectors.js';

const HMAC_KEY = Buffer.from('secret');

const { registry, sets } = vectorSerializers();

/** Where Cinder's daemon answers differently from Pyro4's, and why (listed in docs/interop.md). */
const SERVER_DEVIATIONS: readonly Deviation[] = [
  ...commonServerDeviations(sets, 'pyro4', ['pyro4-json', 'pyro4-hmac-json'], HMAC_KEY),
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

// -------------------------------------------------------------------------------------------------
// The client side.

/** Where Cinder's proxy sends something other than Pyro4's proxy, and why. */
const CLIENT_DEVIATIONS: readonly Deviation[] = [
  ...commonClientDeviations('pyro4'),
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

vectorConformance({
  peer: 'Pyro4',
  protocol: 48,
  files: ['pyro4-json', 'pyro4-serpent', 'pyro4-msgpack', 'pyro4-hmac-json'],
  registry,
  sets,
  hmac: { file: 'pyro4-hmac-json', key: HMAC_KEY },
  // Pyro4's own captures: Pyro4's default accepted serializers, and a Pyro4-only daemon (a bad
  // version or tag says nothing of the protocol: only a Pyro4-only daemon answers in 48).
  daemonKind: (scenario) =>
    scenario === 'serializer_not_accepted'
      ? 'pyro4-accepted'
      : scenario === 'raw_bad_version_connect' || scenario === 'raw_bad_tag_connect'
        ? 'pyro4-only'
        : undefined,
  daemonOptions: (kind) => ({
    protocols: kind === 'pyro4-only' ? [48] : [502, 48],
    ...(kind === 'pyro4-accepted' ? { config: { serializersAccepted: ['serpent', 'marshal', 'json'] } } : {}),
  }),
  serverDeviations: SERVER_DEVIATIONS,
  clientDeviations: CLIENT_DEVIATIONS,
});
