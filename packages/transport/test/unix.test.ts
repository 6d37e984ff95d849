// Unix domain sockets, by path and in the Linux abstract namespace: the compliance suite plus the
// socket file's life cycle (stale files of dead processes, live sockets, permissions, removal).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { CommunicationError, ConfigError } from '@cinder/core';
import { scratchDir } from '@cinder/test-utils';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { unixTransport } from '../src/index.js';
import type { Endpoint, Listener } from '../src/transport.js';
import { type ComplianceTarget, transportCompliance } from './compliance.js';
import { framing, message, Recorder, Tracker, within } from './harness.js';

const dir = scratchDir('unix');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const freshPath = () => join(dir, `s${++counter}.sock`);
const freshAbstract = () => `\0cinder-test-${process.pid}-${++counter}`;

export function rawUnixConnect(endpoint: Endpoint, track: Tracker): Promise<Socket> {
  if (endpoint.kind !== 'unix') throw new Error('unix endpoint expected');
  const socket = track.socket(netConnect({ path: endpoint.path }));
  return within(new Promise((resolve) => socket.once('connect', () => resolve(socket))), 5000, 'raw connect');
}

function unixTarget(endpoint: () => Endpoint): ComplianceTarget {
  const transport = unixTransport();
  return { server: transport, client: transport, listenEndpoint: endpoint, rawConnect: rawUnixConnect };
}

transportCompliance('unix path', () => unixTarget(() => ({ kind: 'unix', path: freshPath() })));
transportCompliance('unix abstract', () => unixTarget(() => ({ kind: 'unix', path: freshAbstract() })));

describe('unix specifics', () => {
  const track = new Tracker();
  afterEach(() => track.closeAll());
  const unix = unixTransport();

  async function listenOn(path: string, socketMode?: number): Promise<Listener> {
    return track.listener(
      await unix.listen(
        { endpoint: { kind: 'unix', path }, framing: framing([502]), ...(socketMode ? { socketMode } : {}) },
        (conn) => {
          track.connection(conn);
          conn.setHandler(new Recorder((m) => conn.send({ ...m, type: 5 })));
        },
      ),
    );
  }

  async function roundTrip(path: string): Promise<void> {
    const conn = track.connection(
      await unix.connect({ endpoint: { kind: 'unix', path }, framing: framing([502]) }),
    );
    const rec = new Recorder();
    conn.setHandler(rec);
    conn.send(message(1, 'ping'));
    await rec.messagesAtLeast(1);
  }

  it.each([0o600, 0o660])('applies socketMode %o to the socket file', async (mode) => {
    const path = freshPath();
    await listenOn(path, mode);
    const st = statSync(path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(mode);
    await roundTrip(path);
  });

  it('removes a stale socket file left by a dead process, then listens', async () => {
    const path = freshPath();
    // Python binds without listening and exits: a socket file with nobody behind it.
    execFileSync('/usr/bin/python3', [
      '-c',
      'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])',
      path,
    ]);
    expect(statSync(path).isSocket()).toBe(true);
    await listenOn(path);
    await roundTrip(path);
  });

  it('refuses a path where another process is listening, and leaves it alone', async () => {
    const path = freshPath();
    const first = await listenOn(path);
    const err = await unix
      .listen({ endpoint: { kind: 'unix', path }, framing: framing([502]) }, () => {})
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(CommunicationError);
    expect((err as Error).message).toMatch(/already in use/);
    // Still the first listener's socket: it answers.
    expect(statSync(path).isSocket()).toBe(true);
    await roundTrip(path);
    expect(first.connections.size).toBeGreaterThan(0);
  });

  it('refuses a path that is not a socket, and leaves the file alone', async () => {
    const path = freshPath();
    writeFileSync(path, 'precious');
    await expect(
      unix.listen({ endpoint: { kind: 'unix', path }, framing: framing([502]) }, () => {}),
    ).rejects.toThrow(/not a socket/);
    expect(readFileSync(path, 'utf8')).toBe('precious');
  });

  it('removes the socket file on stopAccepting/close', async () => {
    const path = freshPath();
    const listener = await listenOn(path);
    await roundTrip(path);
    await listener.stopAccepting();
    expect(() => statSync(path)).toThrow(/ENOENT/);
    await listener.close();
    const again = await listenOn(path);
    await again.close();
    expect(() => statSync(path)).toThrow(/ENOENT/);
  });

  it('abstract names create no file, are shown as @name and refuse socketMode', async () => {
    const name = freshAbstract();
    const listener = await listenOn(name);
    const conn = track.connection(
      await unix.connect({ endpoint: { kind: 'unix', path: name }, framing: framing([502]) }),
    );
    expect(conn.remoteAddress).toBe(`@${name.slice(1)}`);
    expect(readFileSync('/proc/net/unix', 'utf8')).toContain(`@${name.slice(1)}`);
    await listener.close();
    await expect(
      unix.listen(
        { endpoint: { kind: 'unix', path: freshAbstract() }, framing: framing([502]), socketMode: 0o600 },
        () => {},
      ),
    ).rejects.toBeInstanceOf(ConfigError);
  });

  it('refuses paths longer than sockaddr_un can hold instead of truncating them', async () => {
    const long = join(dir, `${'x'.repeat(120)}.sock`);
    await expect(
      unix.listen({ endpoint: { kind: 'unix', path: long }, framing: framing([502]) }, () => {}),
    ).rejects.toThrow(/too long/);
    await expect(
      unix.connect({ endpoint: { kind: 'unix', path: long }, framing: framing([502]) }),
    ).rejects.toBeInstanceOf(ConfigError);
    await expect(
      unix.listen(
        { endpoint: { kind: 'unix', path: `\0${'y'.repeat(108)}` }, framing: framing([502]) },
        () => {},
      ),
    ).rejects.toBeInstanceOf(ConfigError);
  });

  it('connecting to a missing path is a CommunicationError naming it', async () => {
    const path = freshPath();
    const err = await unix.connect({ endpoint: { kind: 'unix', path }, framing: framing([502]) }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CommunicationError);
    expect((err as Error).message).toContain(path);
  });
});
