// `serve()`: Pyro's one-call way to publish objects — start a daemon, register each object under
// its name, optionally register the names with a name server, and print the URIs.
import type { URI } from '@cinder/core';
import { Daemon, type DaemonOptions } from '@cinder/daemon';
import { locateNS } from '@cinder/naming';

/** Options of {@link serve}: every {@link DaemonOptions} item, plus what `serve()` itself does. */
export interface ServeOptions extends DaemonOptions {
  /** An existing daemon to register with instead of starting a new one. */
  daemon?: Daemon;
  /** Register each name with the name server (located as configured). Default false. */
  useNameServer?: boolean;
  /** Print `Object <name>: uri = <uri>` lines (Pyro's verbose output). Default false. */
  verbose?: boolean;
  /** Where verbose lines go (default console.log). */
  print?: (line: string) => void;
}

/** What {@link serve} resolves with. */
export interface Served {
  /** The daemon serving the objects (started by `serve()` unless `options.daemon` was given). */
  daemon: Daemon;
  /** The URI of every object, by the name it was served under. */
  uris: Map<string, URI>;
}

/**
 * Starts (or reuses) a daemon and registers `objects` (a name → object or class map; an empty name
 * gets a generated id). With `useNameServer`, each name is also registered in the name server.
 */
export async function serve(
  objects: Record<string, object> | Map<string, object>,
  options: ServeOptions = {},
): Promise<Served> {
  const { daemon: given, useNameServer, verbose, print, ...daemonOptions } = options;
  const daemon = given ?? (await Daemon.start(daemonOptions));
  const out = print ?? ((line: string) => console.log(line));
  const entries = objects instanceof Map ? [...objects] : Object.entries(objects);
  const uris = new Map<string, URI>();
  for (const [name, target] of entries) {
    const uri = daemon.register(target, name === '' ? undefined : name);
    uris.set(name === '' ? uri.object : name, uri);
  }
  if (useNameServer) {
    const ns = await locateNS({ config: daemon.config });
    try {
      for (const [name, uri] of uris) await ns.register(name, uri);
    } finally {
      await ns.close();
    }
  }
  if (verbose) {
    for (const [name, uri] of uris) out(`Object ${name}:\n    uri = ${uri}`);
    out('Cinder daemon running.');
  }
  return { daemon, uris };
}
