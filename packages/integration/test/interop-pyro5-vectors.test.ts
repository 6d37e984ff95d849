// Pyro5 conformance (protocol 502) from the wire vectors, since Pyro5 itself is not installed:
// every exchange of pyro5-{json,serpent,msgpack,marshal}.jsonl is replayed against a Cinder daemon
// serving the TypeScript port of the vectors' Thing, and its answers compared as each line says.
// Where Cinder differs on purpose (or cannot do otherwise) the difference is listed below.
import {
  CommunicationError,
  ConnectionClosedError,
  connect,
  DAEMON_NAME,
  Daemon,
  type DaemonOptions,
  Flags,
  MsgType,
  type ProxyOptions,
  type PullStream,
  proxyCore,
  type Remote,
  RemoteError,
  TimeoutError,
} from '@cinder/cinder';
import { type Annotations, decodeMessage } from '@cinder/protocol';
import { createSerializers, ExceptionWrapper } from '@cinder/serializers';
import { frameBytes, type VectorFile, type VectorLine, vectorScenarios } from '@cinder/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { sampleValue, Thing, VectorCustomError, vectorRegistry } from './interop-objects.js';
import {
  answersWith,
  type Deviation,
  type FakeServer,
  fakeServer,
  normalize,
  render,
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

/** What the proxy does in each scenario, and what it must get back. */
interface ClientContext {
  file: VectorFile;
  server: FakeServer;
  serializer: string;
  lines: readonly VectorLine[];
  uri(objectId?: string): string;
  options: ProxyOptions;
}

/** The value (or error) the recorded server frame of `step` carries, decoded by Cinder. */
function recorded(ctx: ClientContext, step?: number): unknown {
  const frames = ctx.lines.filter((l) => l.direction === 's2c' && l.frame_hex !== null);
  const line = step === undefined ? frames[frames.length - 1] : frames.find((l) => l.step === step);
  if (!line) throw new Error(`no recorded server frame ${step ?? ''}`);
  const message = decodeMessage(frameBytes(line));
  return sets[5].byId(message.serializerId)!.decode(message.payload);
}

function canonOf(value: unknown): string {
  return render.canon(normalize(value, sets[5]));
}

async function expectFailure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to fail');
}

type Action = (ctx: ClientContext) => Promise<void>;

/** Calls `call` on a fresh proxy for test.thing and checks the result against the last recorded reply. */
function returns(call: (p: Remote<Thing>) => Promise<unknown>, objectId = 'test.thing'): Action {
  return async (ctx) => {
    await using p = connect<Thing>(ctx.uri(objectId), ctx.options);
    expect(canonOf(await call(p))).toBe(canonOf(recorded(ctx)));
  };
}

/** Calls `call` and checks that it raises what the last recorded reply carries. */
function raises(call: (p: Remote<Thing>) => Promise<unknown>, objectId = 'test.thing'): Action {
  return async (ctx) => {
    await using p = connect<Thing>(ctx.uri(objectId), ctx.options);
    const err = await expectFailure(call(p));
    expect(canonOf(err)).toBe(canonOf(recorded(ctx)));
    expect((err as { remoteTraceback?: string[] }).remoteTraceback?.join('')).toContain('Traceback');
  };
}

/** Calls Pyro5's marshal client cannot make (it passes kwargs=None to marshal): Cinder's proxy can. */
const MARSHAL_CLIENT_FAILS: Record<string, string> = {
  batch_normal: '<batch>',
  batch_with_exception: '<batch>',
  batch_oneway: '<batch>',
  attribute_get: '__getattr__',
  attribute_set: '__setattr__',
};

/** Makes the call Pyro's client could not send, and checks the INVOKE the proxy sent for it. */
function sendsWhatPyroCannot(method: string): Action {
  return async (ctx) => {
    await using p = connect<Thing>(ctx.uri(), { ...ctx.options, timeoutMs: 300 });
    const batch = p.$batch();
    batch.add(1, 1);
    const oneway = method === '<batch>' && ctx.lines[0]?.scenario === 'batch_oneway';
    const call = oneway
      ? batch.$oneway()
      : expectFailure(
          method === '<batch>'
            ? batch.$run()
            : method === '__getattr__'
              ? p.$get('value')
              : p.$set('value', 99),
        );
    const frame = await ctx.server.extraFrame();
    expect(frame).toBeInstanceOf(Buffer);
    const invoke = decodeMessage(frame as Buffer);
    const envelope = sets[5].byId(invoke.serializerId)!.decodeCall(invoke.payload);
    expect([envelope.method, envelope.kwargs, invoke.flags & Flags.ONEWAY]).toEqual([
      method,
      null,
      oneway ? Flags.ONEWAY : 0,
    ]);
    if (oneway) await call;
    else expect(await call).toBeInstanceOf(TimeoutError);
  };
}

function actionFor(scenario: string, file?: VectorFile): Action | undefined {
  const marshalFails = MARSHAL_CLIENT_FAILS[scenario];
  if (file === 'pyro5-marshal' && marshalFails !== undefined) return sendsWhatPyroCannot(marshalFails);
  if (scenario.startsWith('result_')) {
    const kind = scenario.slice('result_'.length);
    return async (ctx) => {
      const reply = recorded(ctx);
      if (reply instanceof Error) return raises((p) => p.result(kind))(ctx);
      return returns((p) => p.result(kind))(ctx);
    };
  }
  if (scenario.startsWith('echo_arg_')) {
    const kind = scenario.slice('echo_arg_'.length);
    return async (ctx) => {
      if (!ctx.lines.some((l) => l.direction === 's2c' && l.header?.msg_type === MsgType.RESULT)) {
        // Pyro's client could not even send this (bytes with json); Cinder sends serpent's base64 dict.
        await using p = connect<Thing>(ctx.uri(), { ...ctx.options, timeoutMs: 300 });
        const call = expectFailure(p.echo(sampleValue(kind)));
        const frame = await ctx.server.extraFrame();
        expect(frame).toBeInstanceOf(Buffer);
        const invoke = decodeMessage(frame as Buffer);
        const envelope = sets[5].byId(invoke.serializerId)!.decodeCall(invoke.payload);
        expect(canonOf(envelope.params)).toBe(canonOf([sampleValue(kind)]));
        expect(await call).toBeInstanceOf(TimeoutError);
        return;
      }
      const reply = recorded(ctx);
      if (reply instanceof Error) return raises((p) => p.echo(sampleValue(kind)))(ctx);
      return returns((p) => p.echo(sampleValue(kind)))(ctx);
    };
  }
  switch (scenario) {
    case 'connect_default_handshake':
      return async (ctx) => {
        await using p = connect<Thing>(ctx.uri(), ctx.options);
        await p.$bind();
        expect(p.$handshakeResponse).toBe('hello');
        expect([...(p.$metadata?.oneway ?? [])]).toEqual(['ow']);
      };
    case 'connect_custom_handshake':
      return async (ctx) => {
        await using p = connect<Thing>(ctx.uri(), { ...ctx.options, handshake: { token: 'abc', n: 1 } });
        await p.$bind();
        expect(p.$handshakeResponse).toEqual({ echo: { token: 'abc', n: 1 }, server: 'vectors' });
      };
    case 'connect_rejected_by_validateHandshake':
      return async (ctx) => {
        await using p = connect<Thing>(ctx.uri(), { ...ctx.options, handshake: 'deny-me' });
        const err = await expectFailure(p.$bind());
        expect(err).toBeInstanceOf(CommunicationError);
        expect(err.message).toMatch(/rejected: handshake rejected: client sent 'deny-me'$/);
      };
    case 'connect_unknown_object':
      return async (ctx) => {
        await using p = connect<Thing>(ctx.uri('no.such.object'), ctx.options);
        const err = await expectFailure(p.$bind());
        expect(err).toBeInstanceOf(CommunicationError);
        expect(err.message).toMatch(/rejected: unknown object$/);
      };
    case 'call_positional_args':
      return returns((p) => p.add(1, 2));
    case 'call_kwargs':
      return returns((p) => p.$call('kw', [1], { kwargs: { b: 5, c: 7 } }));
    case 'exception_builtin':
      return raises((p) => p.fail());
    case 'exception_custom':
      return async (ctx) => {
        await using p = connect<Thing>(ctx.uri(), ctx.options);
        const err = (await expectFailure(p.fail_custom())) as VectorCustomError;
        expect(canonOf(err)).toBe(canonOf(recorded(ctx)));
        // Pyro's client cannot rebuild this class; with it registered, Cinder's proxy can
        expect(err).toBeInstanceOf(VectorCustomError);
        expect([err.message, err.code, err.detail]).toEqual(['custom failure', 42, 'extra attribute']);
      };
    case 'oneway_call':
      return returns(async (p) => {
        await p.ow('fire-and-forget');
        return p.last_oneway();
      });
    case 'batch_normal':
      return returns((p) => {
        const b = p.$batch();
        b.add(1, 1);
        b.$queue('kw', [2], { c: 3 });
        b.result('tuple');
        return b.$run();
      });
    case 'batch_with_exception':
      return async (ctx) => {
        await using p = connect<Thing>(ctx.uri(), ctx.options);
        const b = p.$batch();
        b.add(1, 1);
        b.fail();
        b.add(3, 3);
        const results: unknown[] = [];
        const err = await expectFailure(
          (async () => {
            for await (const r of b.$results()) results.push(r);
          })(),
        );
        // the results before the failure, then the wrapped exception is raised
        const [first, wrapper] = recorded(ctx) as [number, ExceptionWrapper];
        expect(results).toEqual([first]);
        expect(canonOf(err)).toBe(canonOf(wrapper.exception));
      };
    case 'batch_oneway':
      return returns(async (p) => {
        const b = p.$batch();
        b.add(1, 1);
        b.ow('set by a oneway batch');
        await b.$oneway();
        return p.last_oneway();
      });
    case 'raw_marshal_batch':
      return async (ctx) => {
        await using p = connect<Thing>(ctx.uri(), ctx.options);
        const b = p.$batch();
        b.add(1, 1);
        b.fail();
        // Pyro5's server could not write this batch's result: it answered with a ValueError
        const err = await expectFailure(b.$run());
        expect(canonOf(err)).toBe(canonOf(recorded(ctx)));
      };
    case 'stream_iterate':
      return async (ctx) => {
        await using p = connect<Thing>(ctx.uri(), ctx.options);
        const items: number[] = [];
        for await (const item of await p.gen(3)) items.push(item);
        expect(items).toEqual([1, 2, 3]);
      };
    case 'stream_close_early':
      return async (ctx) => {
        await using p = connect<Thing>(ctx.uri(), ctx.options);
        const stream = (await p.gen(3)) as PullStream<number>;
        for await (const item of stream) {
          expect(item).toBe(1);
          break; // closes the stream: a oneway close_stream
        }
        const core = proxyCore(p)!;
        const err = await expectFailure(core.callDaemon('get_next_stream_item', [stream.streamId], false));
        expect(canonOf(err)).toBe(canonOf(recorded(ctx)));
      };
    case 'attribute_get':
    case 'raw_marshal_attribute_get':
      return returns((p) => p.$get('value'));
    case 'attribute_set':
    case 'raw_marshal_attribute_set':
      return returns(async (p) => {
        await p.$set('value', 99);
        return p.value;
      });
    case 'private_attribute_refused':
    case 'unexposed_method_refused':
    case 'unknown_method':
      return async (ctx) => {
        const names: Record<string, string> = {
          private_attribute_refused: '_private',
          unexposed_method_refused: 'hidden',
        };
        await using p = connect<Thing>(ctx.uri(), ctx.options);
        await p.$bind();
        // like Pyro's proxy, Cinder's refuses a name the metadata does not list, without sending it
        const err = await expectFailure(p.$call(names[scenario] ?? 'no_such_method'));
        expect(err).toBeInstanceOf(RemoteError);
        expect((err as RemoteError).remoteType).toBe('builtins.AttributeError');
      };
    case 'daemon_ping':
      return returns((p) => p.$call('ping'), DAEMON_NAME);
    case 'daemon_registered':
      return returns((p) => p.$call('registered'), DAEMON_NAME);
    case 'daemon_info':
      return returns((p) => p.$call('info'), DAEMON_NAME);
    case 'daemon_get_metadata':
      return returns((p) => p.$call('get_metadata', ['test.thing']), DAEMON_NAME);
    case 'daemon_get_metadata_unknown':
      return raises((p) => p.$call('get_metadata', ['no.such.object']), DAEMON_NAME);
    case 'ping_message':
      return async (ctx) => {
        await using p = connect<Thing>(ctx.uri(), ctx.options);
        await p.$bind();
        await p.$ping();
      };
    case 'correlation_id':
      return returns((p) =>
        p.$call('corr', [], { correlationId: Buffer.from('12345678123456781234567812345678', 'hex') }),
      );
    case 'custom_annotations':
      return async (ctx) => {
        await using p = connect<Thing>(ctx.uri(), ctx.options);
        await p.$bind();
        let reply: Annotations | undefined;
        const value = await p.$call('ann', [], {
          annotations: new Map([['XREQ', Buffer.from('request-annotation')]]),
          onReplyAnnotations: (a) => {
            reply = a;
          },
        });
        expect(value).toBe('request-annotation');
        expect(Buffer.from(reply?.get('XRSP') ?? []).toString()).toBe('response-annotation');
      };
    case 'compressed_payloads':
      return async (ctx) => {
        await using p = connect<Thing>(ctx.uri(), { ...ctx.options, config: { compression: true } });
        expect(await p.big(300)).toBe('x'.repeat(300));
        expect(await p.echo('y'.repeat(300))).toBe('y'.repeat(300));
      };
    case 'message_too_large_invoke':
      return async (ctx) => {
        await using p = connect<Thing>(ctx.uri(), ctx.options);
        const err = await expectFailure(p.echo('z'.repeat(2000)));
        expect(err).toBeInstanceOf(ConnectionClosedError);
      };
    case 'message_too_large_connect':
      return async (ctx) => {
        await using p = connect<Thing>(ctx.uri(), { ...ctx.options, handshake: 'h'.repeat(2000) });
        const err = await expectFailure(p.$bind());
        expect(err).toBeInstanceOf(CommunicationError);
        expect(err.message).toMatch(/rejected: message too large \(\d+, max=1000\)$/);
      };
  }
  return undefined; // raw-client scenarios: frames no client makes
}

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
