// cinder-nsc, the name server control tool (Pyro's `pyro5-nsc`): list, look up, register and remove
// names and their metadata in a Cinder or Python Pyro name server. `runNsc` is the whole tool
// minus the process: it takes the arguments and an output sink and resolves with the exit code.
import {
  configOrUsageError,
  ExitCode,
  intOption,
  oneLine,
  parseCommandLine,
  planOrExit,
  UsageError,
} from '@cinder/cinder/cli';
import { InvalidUriError, resolveConfig, type SerializerName, URI } from '@cinder/core';
import { type LocateNSOptions, locateNS, type NameServerClient, type Registration } from '@cinder/naming';
import type { ProxyOptions } from '@cinder/proxy';
import { type CliIo, TLS_OPTIONS, tlsConfig } from './cli.js';

export const NSC_USAGE = `Usage: cinder-nsc [options] command [arguments]

Commands:
  list [prefix]             list all names, or those starting with prefix
  listmatching regex        list names matching a Python regex (anchored at the start)
  yplookup_all tag...       list names that have all of these metadata tags
  yplookup_any tag...       list names that have any of these metadata tags
  lookup name               show the uri (and metadata) of a name
  register name uri         register a name (refuses to replace one, unless --force)
  remove name               remove a name
  removematching regex      remove every name matching a regex (asks first, unless --yes)
  setmeta name [tag...]     set the metadata tags of a name (none: clear them)
  count                     number of registrations
  ping                      check that the name server answers
  (listmeta_all / listmeta_any are accepted as Pyro4's names of yplookup_all / yplookup_any)

Options:
  -n, --host HOST           name server host (default: configured nsHost, then broadcast discovery)
  -p, --port PORT           name server port (default 9090; without --host: the broadcast port)
  -u, --unixsocket PATH     name server Unix domain socket
      --protocol 502|48     wire protocol (default: detected; 48 talks to Python Pyro4)
      --serializer NAME     cbor, json, msgpack, serpent or marshal (default: configured serializer)
      --timeout MS          time limit of each call (default 10000)
      --force               register: replace an existing registration
  -y, --yes                 removematching: do not ask
      --json                machine-readable output (JSON on stdout)
  -v, --verbose             say which name server is used (on stderr)
      --ssl                 use TLS (certificates from the --ssl-* options or CINDER_SSL_* variables)
      --ssl-cert FILE       client certificate (PEM), --ssl-key FILE its key, --ssl-ca FILE the CAs
  -h, --help                show this help

Exit codes: 0 ok, 1 failure (name server down, unknown name, refused request), 2 bad usage.
`;

const OPTIONS = {
  host: { type: 'string', short: 'n' },
  port: { type: 'string', short: 'p' },
  unixsocket: { type: 'string', short: 'u' },
  protocol: { type: 'string' },
  serializer: { type: 'string' },
  timeout: { type: 'string' },
  force: { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
  ...TLS_OPTIONS,
} as const;

const SERIALIZERS = new Set<string>(['cbor', 'json', 'msgpack', 'serpent', 'marshal']);

/** Arity of each command: [least, most] arguments. */
const COMMANDS: Record<string, [number, number]> = {
  list: [0, 1],
  listmatching: [1, 1],
  yplookup_all: [1, Number.POSITIVE_INFINITY],
  yplookup_any: [1, Number.POSITIVE_INFINITY],
  listmeta_all: [1, Number.POSITIVE_INFINITY],
  listmeta_any: [1, Number.POSITIVE_INFINITY],
  lookup: [1, 1],
  register: [2, 2],
  remove: [1, 1],
  removematching: [1, 1],
  setmeta: [1, Number.POSITIVE_INFINITY],
  count: [0, 0],
  ping: [0, 0],
};

const ARG_NAMES: Record<string, string> = {
  list: '[prefix]',
  listmatching: 'regex',
  yplookup_all: 'tag...',
  yplookup_any: 'tag...',
  listmeta_all: 'tag...',
  listmeta_any: 'tag...',
  lookup: 'name',
  register: 'name uri',
  remove: 'name',
  removematching: 'regex',
  setmeta: 'name [tag...]',
  count: '',
  ping: '',
};

interface Parsed {
  command: string;
  args: string[];
  json: boolean;
  yes: boolean;
  force: boolean;
  verbose: boolean;
  locate: LocateNSOptions;
}

function parse(argv: readonly string[], env: Record<string, string | undefined>): Parsed | 'help' {
  const parsed = parseCommandLine(argv, OPTIONS, true);
  const v = parsed.values;
  if (v.help) return 'help';
  const [command, ...args] = parsed.positionals;
  if (command === undefined) throw new UsageError('missing command');
  const arity = COMMANDS[command];
  if (!arity) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  if (args.length < arity[0] || args.length > arity[1]) {
    throw new UsageError(`usage: cinder-nsc ${command} ${ARG_NAMES[command]}`.trimEnd());
  }
  const port = intOption(v.port, '--port', 0, 65535);
  const timeoutMs = intOption(v.timeout, '--timeout', 1, 2 ** 31 - 1) ?? 10_000;
  let protocol: 502 | 48 | undefined;
  if (v.protocol !== undefined) {
    if (v.protocol !== '502' && v.protocol !== '48')
      throw new UsageError('option --protocol must be 502 or 48');
    protocol = Number(v.protocol) as 502 | 48;
  }
  if (v.serializer !== undefined && !SERIALIZERS.has(v.serializer)) {
    throw new UsageError(
      `unknown serializer ${JSON.stringify(v.serializer)} (cbor, json, msgpack, serpent, marshal)`,
    );
  }
  if (v.unixsocket !== undefined && v.host !== undefined)
    throw new UsageError('give either --host or --unixsocket');
  if (command === 'register') {
    try {
      URI.parse(args[1]!);
    } catch (err) {
      if (err instanceof InvalidUriError) throw new UsageError(err.message);
      throw err;
    }
  }
  const config = configOrUsageError(() => resolveConfig(tlsConfig(v, false), { env }));
  const proxyOptions: ProxyOptions = {
    ...(protocol !== undefined ? { protocol } : {}),
    ...(v.serializer !== undefined ? { serializer: v.serializer as SerializerName } : {}),
    // Pyro4 name servers only accept serpent, json and marshal; cbor would be refused.
    ...(protocol === 48 && v.serializer === undefined ? { serializer: 'serpent' } : {}),
    connectTimeoutMs: timeoutMs,
  };
  return {
    command,
    args,
    json: v.json === true,
    yes: v.yes === true,
    force: v.force === true,
    verbose: v.verbose === true,
    locate: {
      config,
      timeoutMs,
      proxyOptions,
      ...(v.host !== undefined ? { host: v.host } : {}),
      ...(v.unixsocket !== undefined ? { unixSocket: v.unixsocket } : {}),
      ...(port !== undefined ? { port } : {}),
    },
  };
}

function printListing(io: CliIo, title: string, list: Registration[]): void {
  const sorted = [...list].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  io.stdout(`--------START LIST${title ? ` ${title}` : ''}\n`);
  for (const r of sorted) {
    io.stdout(`${r.name} --> ${r.uri}\n`);
    if (r.metadata.length > 0) io.stdout(`    metadata: ${[...r.metadata].sort().join(', ')}\n`);
  }
  io.stdout(`--------END LIST${title ? ` ${title}` : ''}\n`);
}

function listingJson(list: Registration[]): Record<string, { uri: string; metadata: string[] }> {
  const out: Record<string, { uri: string; metadata: string[] }> = {};
  for (const r of list) {
    Object.defineProperty(out, r.name, {
      value: { uri: r.uri, metadata: [...r.metadata].sort() },
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

async function execute(ns: NameServerClient, p: Parsed, io: CliIo): Promise<number> {
  const timeoutMs = p.locate.timeoutMs;
  const call = timeoutMs !== undefined ? { timeoutMs } : {};
  const out = (value: unknown) => io.stdout(`${JSON.stringify(value, null, 2)}\n`);
  const [a0, a1] = p.args;
  const listing = async (title: string, list: Promise<Registration[]>) => {
    const result = await list;
    if (p.json) out(listingJson(result));
    else printListing(io, title, result);
    return ExitCode.OK;
  };
  switch (p.command) {
    case 'ping':
      await ns.ping(call);
      if (p.json) out({ ok: true, uri: ns.uri.toString() });
      else io.stdout('Name server ping ok.\n');
      return ExitCode.OK;
    case 'count': {
      const n = await ns.count(call);
      io.stdout(p.json ? `${JSON.stringify({ count: n })}\n` : `${n}\n`);
      return ExitCode.OK;
    }
    case 'list':
      return listing(
        a0 === undefined ? '' : `- prefix '${a0}'`,
        ns.list(a0 === undefined ? undefined : { prefix: a0 }, call),
      );
    case 'listmatching':
      return listing(`- regex '${a0}'`, ns.list({ regex: a0! }, call));
    case 'yplookup_all':
    case 'listmeta_all':
      return listing('- searched by metadata (all)', ns.list({ metadataAll: p.args }, call));
    case 'yplookup_any':
    case 'listmeta_any':
      return listing('- searched by metadata (any)', ns.list({ metadataAny: p.args }, call));
    case 'lookup': {
      const { uri, metadata } = await ns.lookupWithMetadata(a0!, call);
      if (p.json) out({ name: a0, uri: uri.toString(), metadata: [...metadata].sort() });
      else {
        io.stdout(`${uri}\n`);
        if (metadata.length > 0) io.stdout(`metadata: ${[...metadata].sort().join(', ')}\n`);
      }
      return ExitCode.OK;
    }
    case 'register':
      await ns.register(a0!, a1!, { ...call, safe: !p.force });
      if (p.json) out({ registered: a0, uri: URI.parse(a1!).toString() });
      else io.stdout(`Registered ${a0}\n`);
      return ExitCode.OK;
    case 'remove': {
      const n = await ns.remove({ name: a0! }, call);
      if (p.json) out({ removed: n });
      if (n > 0) {
        if (!p.json) io.stdout(`Removed ${a0}\n`);
        return ExitCode.OK;
      }
      io.stderr(`cinder-nsc: nothing removed: unknown name ${a0}\n`);
      return ExitCode.FAILURE;
    }
    case 'removematching': {
      if (!p.yes) {
        const matches = await ns.list({ regex: a0! }, { ...call, withMetadata: false });
        if (matches.length === 0) {
          if (p.json) out({ removed: 0 });
          else io.stdout('0 items removed.\n');
          return ExitCode.OK;
        }
        if (!io.prompt) {
          throw new UsageError(`removematching would remove ${matches.length} names: confirm with --yes`);
        }
        const answer = await io.prompt(
          `Potentially removing ${matches.length} items from the name server. Are you sure (y/n)? `,
        );
        if (!/^y(es)?$/i.test(answer.trim())) {
          io.stdout('Nothing removed.\n');
          return ExitCode.OK;
        }
      }
      const n = await ns.remove({ regex: a0! }, call);
      if (p.json) out({ removed: n });
      else io.stdout(`${n} items removed.\n`);
      return ExitCode.OK;
    }
    case 'setmeta': {
      const tags = p.args.slice(1);
      await ns.setMetadata(a0!, tags, call);
      if (p.json) out({ name: a0, metadata: [...new Set(tags)].sort() });
      else io.stdout(tags.length > 0 ? 'Metadata updated\n' : 'Metadata cleared\n');
      return ExitCode.OK;
    }
  }
  throw new UsageError(`unknown command ${JSON.stringify(p.command)}`);
}

/** Runs cinder-nsc with `argv` (without node and the script); resolves with the exit code. */
export async function runNsc(argv: readonly string[], io: CliIo): Promise<number> {
  const p = planOrExit('cinder-nsc', NSC_USAGE, io, () => parse(argv, io.env));
  if (typeof p === 'number') return p;
  let ns: NameServerClient | undefined;
  try {
    ns = await locateNS(p.locate);
    if (p.verbose) io.stderr(`Name server found: ${ns.uri}\n`);
    return await execute(ns, p, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`cinder-nsc: ${err.message}\n`);
      return ExitCode.USAGE;
    }
    const name = err instanceof Error ? err.name : 'Error';
    io.stderr(`cinder-nsc: error: ${name}: ${oneLine(err)}\n`);
    return ExitCode.FAILURE;
  } finally {
    await ns?.close();
  }
}
