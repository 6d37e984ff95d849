// The Cinder proxy's part of each wire-vector scenario (vectors/README.md, "Scenarios"): what a
// client does in it, and what it must get back, for the client-side replay of the Pyro5 and Pyro4
// vector files (a fake server answers with the recorded server frames).
import {
  CommunicationError,
  ConnectionClosedError,
  connect,
  DAEMON_NAME,
  Flags,
  MsgType,
  NotExposedError,
  type ProxyOptions,
  type Remote,
  type RemoteStream,
  TimeoutError,
} from '@cinder/cinder';
import { type Annotations, decodeMessage } from '@cinder/protocol';
import { proxyCore } from '@cinder/proxy/internal';
import type { ExceptionWrapper, SerializerSet } from '@cinder/serializers';
import { frameBytes, type VectorFile, type VectorLine } from '@cinder/test-utils';
import { expect } from 'vitest';
import { sampleValue, type Thing, VectorCustomError } from './interop-objects.js';
import { type FakeServer, normalize, render } from './interop-vectors.js';

/** What the proxy does in each scenario, and what it must get back. */
export interface ClientContext {
  file: VectorFile;
  server: FakeServer;
  /** The serializers of the file's dialect (Pyro4 or Pyro5 class names). */
  set: SerializerSet;
  /** The HMAC key of the recorded frames (Pyro4 with HMAC). */
  hmacKey?: Uint8Array;
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
  const message = decodeMessage(frameBytes(line), ctx.hmacKey ? { hmacKey: ctx.hmacKey } : {});
  return ctx.set.byId(message.serializerId)!.decode(message.payload);
}

function canonOf(value: unknown, set: SerializerSet): string {
  return render.canon(normalize(value, set));
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
    expect(canonOf(await call(p), ctx.set)).toBe(canonOf(recorded(ctx), ctx.set));
  };
}

/** Calls `call` and checks that it raises what the last recorded reply carries. */
function raises(call: (p: Remote<Thing>) => Promise<unknown>, objectId = 'test.thing'): Action {
  return async (ctx) => {
    await using p = connect<Thing>(ctx.uri(objectId), ctx.options);
    const err = await expectFailure(call(p));
    expect(canonOf(err, ctx.set)).toBe(canonOf(recorded(ctx), ctx.set));
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
    const invoke = decodeMessage(frame as Buffer, ctx.hmacKey ? { hmacKey: ctx.hmacKey } : {});
    const envelope = ctx.set.byId(invoke.serializerId)!.decodeCall(invoke.payload);
    expect([envelope.method, envelope.kwargs, invoke.flags & Flags.ONEWAY]).toEqual([
      method,
      null,
      oneway ? Flags.ONEWAY : 0,
    ]);
    if (oneway) await call;
    else expect(await call).toBeInstanceOf(TimeoutError);
  };
}

/** The proxy's part of a scenario, or undefined for scenarios only a raw client can play. */
export function actionFor(scenario: string, file?: VectorFile): Action | undefined {
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
        const invoke = decodeMessage(frame as Buffer, ctx.hmacKey ? { hmacKey: ctx.hmacKey } : {});
        const envelope = ctx.set.byId(invoke.serializerId)!.decodeCall(invoke.payload);
        expect(canonOf(envelope.params, ctx.set)).toBe(canonOf([sampleValue(kind)], ctx.set));
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
        expect(err.message).toMatch(/rejected: unknown object 'no\.such\.object'$/);
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
        expect(canonOf(err, ctx.set)).toBe(canonOf(recorded(ctx), ctx.set));
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
        expect(canonOf(err, ctx.set)).toBe(canonOf(wrapper.exception, ctx.set));
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
        expect(canonOf(err, ctx.set)).toBe(canonOf(recorded(ctx), ctx.set));
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
        const stream = (await p.gen(3)) as RemoteStream<number>;
        for await (const item of stream) {
          expect(item).toBe(1);
          break; // closes the stream: a oneway close_stream
        }
        const core = proxyCore(p)!;
        const { streamId } = stream as unknown as { streamId: string };
        const err = await expectFailure(core.callDaemon('get_next_stream_item', [streamId], false));
        expect(canonOf(err, ctx.set)).toBe(canonOf(recorded(ctx), ctx.set));
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
        expect(err).toBeInstanceOf(NotExposedError);
        expect(err.message).toMatch(/has no exposed attribute or method '\w+'$/);
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
        if (ctx.lines.some((l) => l.step === 2 && l.event === 'closed')) {
          expect(err).toBeInstanceOf(ConnectionClosedError); // Pyro4 closes without a word
        } else {
          expect(err).toBeInstanceOf(CommunicationError);
          expect(err.message).toMatch(/rejected: message too large \(\d+, max=1000\)$/);
        }
      };
  }
  return undefined; // raw-client scenarios: frames no client makes
}
