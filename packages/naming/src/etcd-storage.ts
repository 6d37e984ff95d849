// Name storage in etcd, so several name-server replicas share one registry that survives the loss
// of a minority of etcd members. The client is the npm package `etcd3` (Microsoft; gRPC through
// @grpc/grpc-js), an optional peer dependency loaded only when `etcd://` storage is asked for.
//
// Layout under the prefix P (default `cinder`): `P/n/<name>` holds `{"u": uri, "m": [tags],
// "o": order}` as JSON; `P/election/<role>/…` are the campaign keys of lead(). Registration order
// is the key's mod revision (a replaced name moves to the end); set_metadata keeps the old order
// in `o`. Every read is linearizable (etcd's default): a lookup sees every registration whose
// reply was sent, through any replica. Registrations with a TTL are put on an etcd lease.
import { ConfigError, NamingError } from '@cinder/core';
import type { Etcd3, IKeyValue, IOptions } from 'etcd3';
import type { ListOptions, NameEntry, NameQuery, NameRecord, NameStorage, SetOptions } from './storage.js';

export interface EtcdStorageOptions {
  /** `host:port` of the etcd members (several: the client fails over between them). */
  endpoints: readonly string[];
  /** Key prefix of this registry (default `cinder`): replicas with the same prefix share names. */
  prefix?: string;
  /** TLS to etcd: CA certificates (PEM) that verify the members; a client certificate and key. */
  tls?: { ca: Buffer | string; cert?: Buffer | string; key?: Buffer | string };
  /** etcd user name and password (etcd's authentication). */
  username?: string;
  password?: string;
  /** Time limit of one etcd request (default 5000 ms). */
  timeoutMs?: number;
  /** Time to live of a leader's election session: how long a dead leader keeps the lead (default 3000 ms; whole seconds). */
  leadTtlMs?: number;
}

interface Value {
  u: string;
  m: string[];
  o?: number;
}

const NO_TAGS: readonly string[] = Object.freeze([]);
const EMPTY_SET: ReadonlySet<string> = new Set<string>();
// etcd refuses a transaction of more than 128 operations (its default --max-txn-ops).
const TXN_OPS = 128;

/** The smallest key greater than every key starting with `key` (etcd's range end of a prefix). */
function prefixEnd(key: Buffer): Buffer {
  const end = Buffer.from(key);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

function decode(kv: IKeyValue): Value {
  return JSON.parse(kv.value.toString('utf8')) as Value;
}

function order(kv: IKeyValue, v: Value): number {
  return v.o ?? Number(kv.mod_revision);
}

function encode(uri: string, metadata: Iterable<string>, o?: number): Buffer {
  const v: Value = { u: uri, m: [...new Set(metadata)] };
  if (o !== undefined) v.o = o;
  return Buffer.from(JSON.stringify(v), 'utf8');
}

function tagSet(tags: readonly string[]): ReadonlySet<string> {
  return tags.length === 0 ? EMPTY_SET : new Set(tags);
}

async function loadClient(): Promise<typeof Etcd3> {
  try {
    return (await import('etcd3')).Etcd3;
  } catch (err) {
    throw new ConfigError('etcd storage needs the optional dependency etcd3 (npm install etcd3)', {
      cause: err,
    });
  }
}

/** Parses `etcd://host:port[,host:port…][/prefix]` into endpoints and prefix. */
export function parseEtcdSpec(spec: string): { endpoints: string[]; prefix: string } {
  const m = /^etcd:\/\/([^/]+)(?:\/(.*))?$/.exec(spec);
  if (!m)
    throw new ConfigError(`invalid etcd storage '${spec}' (expected etcd://host:port[,host:port…]/prefix)`);
  const endpoints = m[1]!.split(',').map((e) => e.trim());
  for (const e of endpoints) {
    if (
      !/^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):[0-9]{1,5}$/.test(e) ||
      Number(e.slice(e.lastIndexOf(':') + 1)) > 65535
    )
      throw new ConfigError(`invalid etcd endpoint '${e}' in '${spec}' (expected host:port)`);
  }
  const prefix = m[2] ?? '';
  return { endpoints, prefix: prefix === '' ? 'cinder' : prefix.replace(/\/+$/, '') };
}

/** Connects to etcd and checks that it answers (within `timeoutMs`). */
export async function openEtcdStorage(options: EtcdStorageOptions): Promise<EtcdStorage> {
  const Etcd3 = await loadClient();
  if (options.endpoints.length === 0) throw new ConfigError('etcd storage needs at least one endpoint');
  const timeoutMs = options.timeoutMs ?? 5000;
  const scheme = options.tls ? 'https' : 'http';
  const pem = (v: Buffer | string) => (typeof v === 'string' ? Buffer.from(v) : v);
  const clientOptions: IOptions = {
    hosts: options.endpoints.map((e) => `${scheme}://${e}`),
    dialTimeout: timeoutMs,
    defaultCallOptions: () => ({ deadline: Date.now() + timeoutMs }),
    ...(options.tls
      ? {
          credentials: {
            rootCertificate: pem(options.tls.ca),
            ...(options.tls.key ? { privateKey: pem(options.tls.key) } : {}),
            ...(options.tls.cert ? { certChain: pem(options.tls.cert) } : {}),
          },
        }
      : {}),
    ...(options.username !== undefined
      ? { auth: { username: options.username, password: options.password ?? '' } }
      : {}),
  };
  const client = new Etcd3(clientOptions);
  const storage = new EtcdStorage(client, options);
  try {
    await storage.count();
  } catch (err) {
    client.close();
    throw new NamingError(`cannot reach etcd at ${options.endpoints.join(',')}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return storage;
}

/** Registrations in etcd; see the module comment for the layout and the consistency. */
export class EtcdStorage implements NameStorage {
  readonly kind = 'etcd';
  readonly prefix: string;
  readonly #client: Etcd3;
  readonly #names: Buffer;
  readonly #leadTtlS: number;
  readonly #resigns = new Set<() => Promise<void>>();
  readonly #watchers = new Set<() => void>();
  #closed = false;

  constructor(client: Etcd3, options: EtcdStorageOptions) {
    this.#client = client;
    this.prefix = options.prefix ?? 'cinder';
    this.#names = Buffer.from(`${this.prefix}/n/`, 'utf8');
    this.#leadTtlS = Math.max(1, Math.ceil((options.leadTtlMs ?? 3000) / 1000));
  }

  #key(name: string): Buffer {
    return Buffer.concat([this.#names, Buffer.from(name, 'utf8')]);
  }

  #check(): void {
    if (this.#closed) throw new NamingError('name storage is closed');
  }

  async #kv(name: string): Promise<IKeyValue | undefined> {
    this.#check();
    const res = await this.#client.kv.range({ key: this.#key(name) });
    return res.kvs[0];
  }

  async get(name: string): Promise<NameEntry | undefined> {
    const kv = await this.#kv(name);
    if (kv === undefined) return undefined;
    const v = decode(kv);
    return { uri: v.u, metadata: tagSet(v.m) };
  }

  async has(name: string): Promise<boolean> {
    this.#check();
    const res = await this.#client.kv.range({ key: this.#key(name), count_only: true });
    return Number(res.count) > 0;
  }

  async set(name: string, uri: string, metadata: Iterable<string>, options?: SetOptions): Promise<void> {
    this.#check();
    await this.#client.kv.put({
      key: this.#key(name),
      value: encode(uri, metadata),
      ...(options?.lease ? { lease: options.lease } : {}),
    });
  }

  async add(name: string, uri: string, metadata: Iterable<string>, options?: SetOptions): Promise<boolean> {
    this.#check();
    const key = this.#key(name);
    const res = await this.#client.kv.txn({
      compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
      success: [
        {
          request_put: {
            key,
            value: encode(uri, metadata),
            ...(options?.lease ? { lease: options.lease } : {}),
          },
        },
      ],
    });
    return res.succeeded;
  }

  async setMetadata(name: string, metadata: Iterable<string>): Promise<boolean> {
    const tags = [...metadata];
    // Compare-and-swap on the mod revision, so a concurrent change is not overwritten.
    for (let attempt = 0; attempt < 20; attempt++) {
      const kv = await this.#kv(name);
      if (kv === undefined) return false;
      const v = decode(kv);
      const res = await this.#client.kv.txn({
        compare: [{ key: kv.key, target: 'Mod', result: 'Equal', mod_revision: kv.mod_revision }],
        success: [{ request_put: { key: kv.key, value: encode(v.u, tags, order(kv, v)), lease: kv.lease } }],
      });
      if (res.succeeded) return true;
    }
    throw new NamingError(`set_metadata of ${name}: too many concurrent changes`);
  }

  async delete(name: string): Promise<boolean> {
    this.#check();
    const res = await this.#client.kv.deleteRange({ key: this.#key(name) });
    return Number(res.deleted) > 0;
  }

  async deleteIf(name: string, uri: string): Promise<boolean> {
    const kv = await this.#kv(name);
    if (kv === undefined || decode(kv).u !== uri) return false;
    const res = await this.#client.kv.txn({
      compare: [{ key: kv.key, target: 'Mod', result: 'Equal', mod_revision: kv.mod_revision }],
      success: [{ request_delete_range: { key: kv.key } }],
    });
    return res.succeeded;
  }

  async deleteMany(names: Iterable<string>): Promise<number> {
    this.#check();
    const keys = [...new Set(names)].map((n) => this.#key(n));
    let removed = 0;
    // One transaction per 128 names (etcd's limit): atomic up to that many.
    for (let i = 0; i < keys.length; i += TXN_OPS) {
      const res = await this.#client.kv.txn({
        compare: [],
        success: keys.slice(i, i + TXN_OPS).map((key) => ({ request_delete_range: { key } })),
      });
      for (const r of res.responses) removed += Number(r.response_delete_range.deleted);
    }
    return removed;
  }

  async count(): Promise<number> {
    this.#check();
    const res = await this.#client.kv.range({
      key: this.#names,
      range_end: prefixEnd(this.#names),
      count_only: true,
    });
    return Number(res.count);
  }

  async list(query?: NameQuery, options?: ListOptions): Promise<NameRecord[]> {
    this.#check();
    const withMetadata = options?.withMetadata === true;
    const from = query && 'prefix' in query ? this.#key(query.prefix) : this.#names;
    const res = await this.#client.kv.range({ key: from, range_end: prefixEnd(from) });
    const rows: { name: string; v: Value; o: number }[] = [];
    let keep: ((tags: readonly string[]) => boolean) | undefined;
    if (query && 'metadataAll' in query) {
      const want = [...new Set(query.metadataAll)];
      keep = (tags) => want.length > 0 && want.every((t) => tags.includes(t));
    } else if (query && 'metadataAny' in query) {
      const want = new Set(query.metadataAny);
      keep = (tags) => tags.some((t) => want.has(t));
    }
    for (const kv of res.kvs) {
      const v = decode(kv);
      if (keep && !keep(v.m)) continue;
      rows.push({ name: kv.key.subarray(this.#names.length).toString('utf8'), v, o: order(kv, v) });
    }
    rows.sort((a, b) => a.o - b.o);
    return rows.map((r) => ({
      name: r.name,
      uri: r.v.u,
      metadata: withMetadata && r.v.m.length > 0 ? r.v.m : NO_TAGS,
    }));
  }

  async grantLease(ttlMs: number): Promise<string> {
    this.#check();
    const res = await this.#client.leaseClient.leaseGrant({ TTL: Math.max(1, Math.ceil(ttlMs / 1000)) });
    return res.ID;
  }

  async renewLease(lease: string): Promise<boolean> {
    this.#check();
    const stream = await this.#client.leaseClient.leaseKeepAlive();
    try {
      const ttl = await new Promise<number>((resolve, reject) => {
        stream.on('data', (res) => resolve(Number(res.TTL)));
        stream.on('error', reject);
        stream.on('end', () => reject(new NamingError('etcd ended the lease keep-alive stream')));
        stream.write({ ID: lease });
      });
      return ttl > 0;
    } finally {
      stream.end();
    }
  }

  async revokeLease(lease: string): Promise<void> {
    this.#check();
    try {
      await this.#client.leaseClient.leaseRevoke({ ID: lease });
    } catch (err) {
      // An ended lease is revoked already.
      if (!/lease not found/.test((err as Error).message)) throw err;
    }
  }

  async lead(role: string, onChange: (leading: boolean) => void): Promise<() => Promise<void>> {
    this.#check();
    const election = this.#client.namespace(`${this.prefix}/`).election(role, this.#leadTtlS);
    let stopped = false;
    let campaign: ReturnType<typeof election.campaign> | undefined;
    let retry: NodeJS.Timeout | undefined;
    const start = () => {
      if (stopped || this.#closed) return;
      const c = election.campaign(`${process.pid}`);
      campaign = c;
      let leading = false;
      c.on('elected', () => {
        if (stopped || campaign !== c) return;
        leading = true;
        onChange(true);
      });
      c.on('error', () => {
        if (campaign !== c) return;
        campaign = undefined;
        if (leading) onChange(false);
        c.resign().catch(() => {});
        // Campaign again once etcd answers; a lost session shows the lead moved elsewhere.
        retry = setTimeout(start, 500);
        retry.unref();
      });
    };
    start();
    const resign = async () => {
      if (stopped) return;
      stopped = true;
      this.#resigns.delete(resign);
      if (retry) clearTimeout(retry);
      const c = campaign;
      campaign = undefined;
      await c?.resign().catch(() => {});
    };
    this.#resigns.add(resign);
    return resign;
  }

  async watch(name: string, onChange: (uri: string | undefined) => void): Promise<() => void> {
    this.#check();
    const watcher = await this.#client.watch().key(this.#key(name)).create();
    watcher.on('put', (kv) => onChange(decode(kv).u));
    watcher.on('delete', () => onChange(undefined));
    // etcd3 reconnects a watcher by itself and replays what it missed.
    watcher.on('error', () => {});
    let stopped = false;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      this.#watchers.delete(stop);
      // Cancelling sends one request; a failure only means etcd is gone (the watch with it).
      watcher.cancel().catch(() => undefined);
    };
    this.#watchers.add(stop);
    if (this.#closed) stop();
    return stop;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    for (const stop of [...this.#watchers]) stop();
    await Promise.all([...this.#resigns].map((r) => r()));
    this.#closed = true;
    this.#client.close();
  }
}
