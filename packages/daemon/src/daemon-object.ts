// The daemon's built-in object, reachable as `PYRO:Pyro.Daemon@host:port` (Pyro's DaemonObject):
// ping, registered, info, get_metadata, and the item-stream methods used by Python clients.
import { DaemonError, type ObjectMetadata } from '@cinder/core';
import { expose } from '@cinder/rpc';

/** What the built-in object needs from its daemon. */
export interface DaemonObjectHost {
  registeredIds(): string[];
  describe(): string;
  metadataOf(objectId: string): ObjectMetadata | undefined;
  nextStreamItem(streamId: string): Promise<unknown>;
  closeStream(streamId: string): void;
}

/** Pyro's DaemonObject: the daemon's own remote interface. */
export class DaemonObject {
  readonly #host: DaemonObjectHost;

  constructor(host: DaemonObjectHost) {
    this.#host = host;
  }

  /** The ids of every registered object. */
  registered(): string[] {
    return this.#host.registeredIds();
  }

  ping(): null {
    return null;
  }

  /** A description of the daemon (address, object count, server type). */
  info(): string {
    return this.#host.describe();
  }

  /** The metadata (methods, oneway methods, attributes) of a registered object. */
  get_metadata(objectId: unknown, _asLists?: unknown): ObjectMetadata {
    if (typeof objectId !== 'string') throw new DaemonError('unknown object');
    const meta = this.#host.metadataOf(objectId);
    if (!meta) throw new DaemonError('unknown object');
    return meta;
  }

  /** The next item of a streamed result (Pyro's item-streaming protocol). */
  get_next_stream_item(streamId: unknown): Promise<unknown> {
    if (typeof streamId !== 'string') throw new DaemonError('item stream terminated');
    return this.#host.nextStreamItem(streamId);
  }

  /** Closes a streamed result early. */
  close_stream(streamId: unknown): null {
    if (typeof streamId === 'string') this.#host.closeStream(streamId);
    return null;
  }
}

expose(DaemonObject, ['registered', 'ping', 'info', 'get_metadata', 'get_next_stream_item', 'close_stream']);
