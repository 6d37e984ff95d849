// Auto-clean: periodically checks that every registered object's daemon still answers and removes
// registrations that have been unreachable for a while (Pyro's NS_AUTOCLEAN). Probes run in the
// background with bounded concurrency; lookups never wait for them. Each daemon address is probed
// once per sweep however many names point at it, and a name is only removed if it still holds the
// uri that was found unreachable (it may have been registered again meanwhile).
import { connect as netConnect, type Socket } from 'node:net';
import {
  type CinderConfig,
  CommunicationError,
  componentLogger,
  DAEMON_NAME,
  type Logger,
  NAMESERVER_NAME,
  URI,
} from '@cinder/core';
import { connect } from '@cinder/proxy';
import type { NameStorage } from './storage.js';

export interface AutoCleanOptions {
  /** Time between sweeps (default half of `maxUnreachableMs`, at least 1000 ms). */
  intervalMs?: number;
  /** A registration unreachable for this long is removed (default `config.nsAutocleanMs`). */
  maxUnreachableMs?: number;
  /**
   * `connect` (default, like Pyro): the daemon's port accepts a TCP/Unix connection. `ping`: a
   * Pyro handshake for the registered object succeeds, which also catches objects a live daemon
   * no longer serves.
   */
  probe?: 'connect' | 'ping';
  /** Time limit of one probe (default `config.commTimeoutMs`, else 5000 ms). */
  probeTimeoutMs?: number;
  /** Probes in flight at once (default 16). */
  concurrency?: number;
}

export interface SweepResult {
  /** Registrations checked (the name server's own and non-PYRO uris are skipped). */
  checked: number;
  /** Registrations unreachable in this sweep. */
  unreachable: number;
  /** Names removed in this sweep. */
  removed: string[];
}

interface Target {
  readonly key: string;
  readonly uri: URI;
  readonly names: string[];
  readonly uriText: string[];
}

/** Removes registrations whose daemon stopped answering. Start it with `start()`. */
export class AutoCleaner {
  readonly intervalMs: number;
  readonly maxUnreachableMs: number;
  readonly #storage: NameStorage;
  readonly #config: CinderConfig;
  readonly #logger: Logger;
  readonly #probe: 'connect' | 'ping';
  readonly #probeTimeoutMs: number;
  readonly #concurrency: number;
  /** name → when it was first found unreachable, and with which uri. */
  readonly #unreachable = new Map<string, { since: number; uri: string }>();
  readonly #sockets = new Set<Socket>();
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<SweepResult> | undefined;
  #closed = false;

  constructor(storage: NameStorage, config: CinderConfig, options: AutoCleanOptions = {}, logger?: Logger) {
    this.#storage = storage;
    this.#config = config;
    this.#logger = componentLogger(logger, 'ns-autoclean');
    this.maxUnreachableMs = options.maxUnreachableMs ?? config.nsAutocleanMs;
    if (!(this.maxUnreachableMs > 0)) throw new RangeError('autoclean needs maxUnreachableMs > 0');
    this.intervalMs = options.intervalMs ?? Math.max(1000, Math.floor(this.maxUnreachableMs / 2));
    this.#probe = options.probe ?? 'connect';
    this.#probeTimeoutMs = options.probeTimeoutMs ?? (config.commTimeoutMs || 5000);
    this.#concurrency = Math.max(1, options.concurrency ?? 16);
  }

  /** Sweeps every `intervalMs` until closed. The timer never keeps the process alive. */
  start(): this {
    if (this.#timer || this.#closed) return this;
    this.#timer = setInterval(() => {
      if (!this.#sweeping)
        this.sweep().catch((err: unknown) => this.#logger.warn({ err }, 'autoclean sweep failed'));
    }, this.intervalMs);
    this.#timer.unref();
    this.#logger.info(
      { intervalMs: this.intervalMs, maxUnreachableMs: this.maxUnreachableMs },
      'autoclean enabled',
    );
    return this;
  }

  /** Whether it sweeps on its timer now (started, not paused or closed). */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /**
   * Stops sweeping until start() is called again (another replica took over), and forgets what it
   * found unreachable: that replica keeps its own account.
   */
  pause(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#unreachable.clear();
    this.#logger.info('autoclean paused');
  }

  /** One sweep now (joins a sweep in progress). */
  sweep(): Promise<SweepResult> {
    this.#sweeping ??= this.#sweep().finally(() => {
      this.#sweeping = undefined;
    });
    return this.#sweeping;
  }

  async #sweep(): Promise<SweepResult> {
    const targets = await this.#targets();
    const result: SweepResult = { checked: 0, unreachable: 0, removed: [] };
    const queue = [...targets.values()];
    const worker = async () => {
      for (let t = queue.shift(); t !== undefined && !this.#closed; t = queue.shift()) {
        const reachable = await this.#reachable(t.uri);
        if (this.#closed) return;
        await this.#record(t, reachable, result);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, queue.length) }, worker));
    // Forget names that are gone or were registered again with another uri.
    for (const [name, state] of this.#unreachable) {
      if ((await this.#storage.get(name))?.uri !== state.uri) this.#unreachable.delete(name);
    }
    if (result.removed.length > 0 || result.unreachable > 0) {
      this.#logger.info(
        { checked: result.checked, unreachable: result.unreachable, removed: result.removed },
        'autoclean sweep',
      );
    }
    return result;
  }

  /** Registrations grouped by what one probe checks: the daemon address, or the object for `ping`. */
  async #targets(): Promise<Map<string, Target>> {
    const targets = new Map<string, Target>();
    for (const r of await this.#storage.list()) {
      if (r.name === NAMESERVER_NAME || r.name === DAEMON_NAME) continue;
      let uri: URI;
      try {
        uri = URI.parse(r.uri);
      } catch {
        continue;
      }
      if (uri.protocol !== 'PYRO') continue;
      const key = this.#probe === 'ping' ? uri.toString() : uri.location!;
      let t = targets.get(key);
      if (!t) targets.set(key, (t = { key, uri, names: [], uriText: [] }));
      t.names.push(r.name);
      t.uriText.push(r.uri);
    }
    return targets;
  }

  async #record(t: Target, reachable: boolean, result: SweepResult): Promise<void> {
    const now = Date.now();
    for (let i = 0; i < t.names.length; i++) {
      const name = t.names[i]!;
      const uri = t.uriText[i]!;
      result.checked++;
      if (reachable) {
        this.#unreachable.delete(name);
        continue;
      }
      result.unreachable++;
      let state = this.#unreachable.get(name);
      if (!state || state.uri !== uri) this.#unreachable.set(name, (state = { since: now, uri }));
      if (now - state.since < this.maxUnreachableMs) continue;
      // Only if the name still points where it pointed when found unreachable.
      if (await this.#deleteIf(name, uri)) {
        result.removed.push(name);
        this.#logger.info(
          { name, uri, unreachableMs: now - state.since },
          'autoclean: removed unreachable registration',
        );
      }
      this.#unreachable.delete(name);
    }
  }

  /** Removes `name` if it still holds `uri` (atomically in a shared store, which others change). */
  async #deleteIf(name: string, uri: string): Promise<boolean> {
    const s = this.#storage;
    if (s.deleteIf) return s.deleteIf(name, uri);
    return (await s.get(name))?.uri === uri && (await s.delete(name));
  }

  #reachable(uri: URI): Promise<boolean> {
    return this.#probe === 'ping' ? this.#ping(uri) : this.#connect(uri);
  }

  #connect(uri: URI): Promise<boolean> {
    return new Promise((resolve) => {
      const ep = uri.endpoint();
      const socket =
        ep.kind === 'unix' ? netConnect({ path: ep.path }) : netConnect({ host: ep.host, port: ep.port });
      this.#sockets.add(socket);
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.#sockets.delete(socket);
        socket.destroy();
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), this.#probeTimeoutMs);
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
      socket.once('close', () => done(false));
    });
  }

  /** Reachable, and the daemon does not refuse the object as unknown. */
  async #ping(uri: URI): Promise<boolean> {
    if (!(await this.#connect(uri))) return false;
    const proxy = connect(uri, {
      config: this.#config,
      serializer: 'json',
      connectTimeoutMs: this.#probeTimeoutMs,
    });
    try {
      await proxy.$bind({ timeoutMs: this.#probeTimeoutMs });
      return true;
    } catch (err) {
      // Anything else that goes wrong (another protocol, a handshake check, a timeout) still
      // means a live daemon answered; only "unknown object" says the registration is stale.
      return !(err instanceof CommunicationError && /rejected: unknown object/.test(err.message));
    } finally {
      await proxy.$release();
    }
  }

  /** Stops sweeping; probes in flight are cut off. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const socket of this.#sockets) socket.destroy();
    await this.#sweeping?.catch(() => {});
  }
}
