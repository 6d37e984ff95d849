// The conformance suite the Pyro5 and Pyro4 vector tests share: every scenario of each vector file
// replayed against a Cinder daemon of the kind it was captured against (the server side), and a
// Cinder proxy driven against a fake server answering with the recorded frames (the client side).
// Each test file brings its protocol's files, daemon kinds and documented deviations.
import { Daemon, type DaemonOptions, Flags, MsgType } from '@cinder/cinder';
import { type ClassRegistry, createSerializers, type SerializerSet } from '@cinder/serializers';
import { type VectorFile, vectorScenarios } from '@cinder/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { actionFor, type ClientContext } from './interop-client-actions.js';
import { sampleValue, Thing, vectorRegistry } from './interop-objects.js';
import { answersWith, type Deviation, fakeServer, replayAgainstServer } from './interop-vectors.js';

export type VectorSets = { 4: SerializerSet; 5: SerializerSet };

/** The registry of the vectors' classes, and serializers of both dialects using it. */
export function vectorSerializers(): { registry: ClassRegistry; sets: VectorSets } {
  const registry = vectorRegistry();
  return {
    registry,
    sets: {
      4: createSerializers({ dialect: 4, registry }),
      5: createSerializers({ dialect: 5, registry }),
    },
  };
}

/**
 * Where Cinder's daemon answers Pyro4 and Pyro5 clients alike differently from Pyro's daemon: its
 * values and its stack, not the protocol. `jsonFiles` are the peer's json captures (Pyro's json
 * cannot write bytes there).
 */
export function commonServerDeviations(
  sets: VectorSets,
  peer: 'pyro4' | 'pyro5',
  jsonFiles: string[],
  hmacKey?: Uint8Array,
): Deviation[] {
  const Peer = peer === 'pyro4' ? 'Pyro4' : 'Pyro5';
  return [
    {
      scenarios: ['result_float_integral', 'echo_arg_float_integral'],
      expect: 'decoded',
      why: 'JavaScript cannot tell 2.0 from 2: an integral number is written as an int',
    },
    {
      scenarios: ['result_bytes'],
      files: jsonFiles,
      steps: [4],
      expect: answersWith(sets, sampleValue('bytes'), Flags.CORR_ID, hmacKey),
      why: `${Peer}'s json cannot write bytes (SerializeError, then it closes); Cinder writes the base64 dict serpent uses`,
    },
    {
      scenarios: ['result_bytes'],
      files: jsonFiles,
      steps: [5],
      expect: 'skip',
      why: 'no SerializeError, so the connection stays open',
    },
    {
      scenarios: ['echo_arg_bytes'],
      files: [`${peer}-serpent`],
      expect: 'decoded',
      why: "a received base64 bytes dict becomes bytes again, and goes back in serpent's bytes layout",
    },
    {
      scenarios: ['echo_arg_dict_int_keys'],
      files: [`${peer}-msgpack`],
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
  ];
}

/** Where Cinder's proxy sends something other than Pyro4's and Pyro5's proxies alike. */
export function commonClientDeviations(peer: 'pyro4' | 'pyro5'): Deviation[] {
  return [
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
      files: [`${peer}-serpent`],
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
  ];
}

/** The daemon kinds every capture used: stock, custom handshake, small limit, compressing. */
function commonDaemonKind(scenario: string): string {
  return scenario === 'connect_custom_handshake' || scenario === 'connect_rejected_by_validateHandshake'
    ? 'handshake'
    : scenario.startsWith('message_too_large')
      ? 'small'
      : scenario === 'compressed_payloads'
        ? 'compress'
        : 'default';
}

export interface VectorSuite {
  /** 'Pyro5' or 'Pyro4', for the test names. */
  peer: string;
  protocol: 502 | 48;
  files: readonly VectorFile[];
  registry: ClassRegistry;
  sets: VectorSets;
  /** The file whose frames carry an HMAC, and its key. */
  hmac?: { file: VectorFile; key: Uint8Array };
  /** A daemon kind of this protocol's own captures, if the scenario needs one (else a common kind). */
  daemonKind?: (scenario: string) => string | undefined;
  /** What a kind adds to the daemon's options; its `config` is merged with the common kinds' config. */
  daemonOptions?: (kind: string) => Partial<DaemonOptions>;
  serverDeviations: readonly Deviation[];
  clientDeviations: readonly Deviation[];
}

/** Declares the server-side and client-side tests of every scenario of `suite.files`. */
export function vectorConformance(suite: VectorSuite): void {
  const { peer, protocol, registry, sets } = suite;
  const hmacKeyOf = (file: VectorFile) => (suite.hmac?.file === file ? suite.hmac.key : undefined);
  const daemons = new Map<string, Promise<Daemon>>();

  /** The daemon a scenario was captured against, one per kind (and HMAC key), started on first use. */
  function daemonFor(scenario: string, file: VectorFile): Promise<Daemon> {
    const kind = suite.daemonKind?.(scenario) ?? commonDaemonKind(scenario);
    const hmacKey = hmacKeyOf(file);
    const key = `${kind}:${hmacKey !== undefined}`;
    let daemon = daemons.get(key);
    if (!daemon) {
      const own = suite.daemonOptions?.(kind) ?? {};
      const options: DaemonOptions = {
        host: '127.0.0.1',
        registry,
        ...own,
        ...(hmacKey !== undefined ? { hmacKey } : {}),
        config: {
          ...(kind === 'small' ? { maxMessageSize: 1000 } : {}),
          ...(kind === 'compress' ? { compression: true } : {}),
          ...own.config,
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

  describe.each(suite.files)(`a Cinder daemon answers the ${peer} client frames of %s`, (file) => {
    const hmacKey = hmacKeyOf(file);
    const scenarios = [...vectorScenarios(file)];
    it.each(scenarios.map(([name, lines]) => ({ name, lines })))('$name', async ({ name, lines }) => {
      const daemon = await daemonFor(name, file);
      const problems = await replayAgainstServer(lines, {
        port: (daemon.endpoint as { port: number }).port,
        sets,
        ...(hmacKey !== undefined ? { hmacKey } : {}),
        deviations: suite.serverDeviations,
      });
      expect(problems.join('\n')).toBe('');
    });
  });

  describe.each(suite.files)(`a Cinder proxy sends what ${peer} clients sent in %s`, (file) => {
    const hmacKey = hmacKeyOf(file);
    const withKey = hmacKey !== undefined ? { hmacKey } : {};
    // The serializer is the file name's last word (pyro5-json, pyro4-hmac-json: json).
    const serializer = file.slice(file.lastIndexOf('-') + 1);
    const scenarios = [...vectorScenarios(file)].filter(([name]) => actionFor(name, file) !== undefined);
    it.each(scenarios.map(([name, lines]) => ({ name, lines })))('$name', async ({ name, lines }) => {
      const server = await fakeServer(lines, { sets, ...withKey, deviations: suite.clientDeviations });
      try {
        const ctx: ClientContext = {
          file,
          server,
          set: protocol === 48 ? sets[4] : sets[5],
          ...withKey,
          serializer,
          lines,
          uri: (objectId = 'test.thing') => `PYRO:${objectId}@127.0.0.1:${server.port}`,
          options: { protocol, serializer, registry, timeoutMs: 5000, connectTimeoutMs: 5000, ...withKey },
        };
        await actionFor(name, file)!(ctx);
        expect((await server.finish()).join('\n')).toBe('');
      } finally {
        await server.close();
      }
    });
  });
}
