// grpc-js baseline: the most common Node RPC. A generic service whose messages are raw Buffers
// (identity (de)serializers, no protobuf), so it measures grpc-js's HTTP/2 machinery, not a codec.
// grpc-js is imported lazily so the orchestrator and the other systems' processes never load it.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Grpc from '@grpc/grpc-js';
import type { ClientDriver } from '../harness.js';
import type { ClientPlan, ServerPlan } from '../messages.js';
import { PING_PAYLOAD_BYTES, systemScenarios } from '../scenarios.js';
import { type NodeSystem, type RunningServer, type SystemSpec, workerCommand } from '../system.js';

/** Above the biggest transfer call (7,000,000 bytes); grpc's default limit is 4 MiB. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export const grpcSpec: SystemSpec = {
  id: 'grpc',
  label: 'grpc-js',
  serializers: ['none'],
  scenarios: systemScenarios(['connections', 'new_proxy_calls', 'oneway', 'batched']),
  probe: async () => {
    try {
      const pkg = createRequire(import.meta.url)('@grpc/grpc-js/package.json') as { version: string };
      return { available: true, versions: { 'grpc-js': pkg.version } };
    } catch (err) {
      return { available: false, reason: `@grpc/grpc-js cannot be loaded: ${(err as Error).message}` };
    }
  },
  serverCommand: (plan) => workerCommand('grpc', 'server', plan),
  clientCommand: (plan) => workerCommand('grpc', 'client', plan),
};

const identity = (b: Buffer): Buffer => b;

function method(name: string): Grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path: `/cinder.bench.Bench/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}

const service = { echo: method('Echo'), transfer: method('Transfer') } satisfies Grpc.ServiceDefinition;

const channelOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
};

async function startServer(plan: ServerPlan): Promise<RunningServer> {
  const grpc = await import('@grpc/grpc-js');
  const server = new grpc.Server(channelOptions);
  server.addService(service, {
    echo: (call: Grpc.ServerUnaryCall<Buffer, Buffer>, callback: Grpc.sendUnaryData<Buffer>) => {
      callback(null, call.request);
    },
    transfer: (call: Grpc.ServerUnaryCall<Buffer, Buffer>, callback: Grpc.sendUnaryData<Buffer>) => {
      const reply = Buffer.allocUnsafe(4);
      reply.writeUInt32BE(call.request.length, 0);
      callback(null, reply);
    },
  });
  const credentials =
    plan.transport === 'tls'
      ? grpc.ServerCredentials.createSsl(
          null,
          [{ private_key: readFileSync(plan.tls!.key), cert_chain: readFileSync(plan.tls!.cert) }],
          false,
        )
      : grpc.ServerCredentials.createInsecure();
  const bindTo = plan.transport === 'unix' ? `unix:${plan.socketPath!}` : '127.0.0.1:0';
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(bindTo, credentials, (err, p) => (err ? reject(err) : resolve(p)));
  });
  return {
    address: plan.transport === 'unix' ? bindTo : `127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

type UnaryFn = (
  request: Buffer,
  callback: (err: Grpc.ServiceError | null, response?: Buffer) => void,
) => Grpc.ClientUnaryCall;

/** A connected grpc-js client and its unary calls. */
async function openClient(plan: ClientPlan, ownConnection: boolean) {
  const grpc = await import('@grpc/grpc-js');
  const Client = grpc.makeGenericClientConstructor(service, 'Bench');
  const credentials =
    plan.transport === 'tls'
      ? grpc.credentials.createSsl(readFileSync(plan.tls!.ca))
      : grpc.credentials.createInsecure();
  const client = new Client(plan.address, credentials, {
    ...channelOptions,
    ...(plan.transport === 'tls' ? { 'grpc.ssl_target_name_override': 'localhost' } : {}),
    // grpc-js shares one connection between clients with the same target and options, unless
    // each channel keeps its own subchannel pool: the many-clients scenarios want N connections.
    ...(ownConnection ? { 'grpc.use_local_subchannel_pool': 1 } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    client.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve()));
  });
  const unary = (name: 'echo' | 'transfer'): ((req: Buffer) => Promise<Buffer>) => {
    const fn = (client as unknown as Record<string, UnaryFn>)[name]!.bind(client);
    return (req) =>
      new Promise((resolve, reject) => {
        fn(req, (err, res) => (err ? reject(err) : resolve(res!)));
      });
  };
  return { echo: unary('echo'), transfer: unary('transfer'), close: async () => client.close() };
}

const ping = Buffer.alloc(PING_PAYLOAD_BYTES, 0x70);

async function connect(plan: ClientPlan): Promise<ClientDriver> {
  const { echo, transfer, close } = await openClient(plan, false);
  return {
    pipelining: true,
    unsupported: {
      connections: 'grpc-js has no connect-only operation to compare',
      new_proxy_calls: 'not measured for grpc-js',
      oneway: 'grpc has no oneway unary calls',
      batched: 'grpc has no batching',
    },
    call: async () => {
      await echo(ping);
    },
    transfer: async (data) => {
      const reply = await transfer(
        Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length),
      );
      return reply.readUInt32BE(0);
    },
    openClient: async () => {
      const own = await openClient(plan, true);
      return {
        call: async () => {
          await own.echo(ping);
        },
        close: own.close,
      };
    },
    close,
  };
}

export const grpcSystem: NodeSystem = { startServer, connect };
