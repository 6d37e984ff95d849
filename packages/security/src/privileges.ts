// Privilege dropping for the CLI apps (name server, echo server): started as root to bind a low
// port or read a root-only key, they switch to an unprivileged user before serving anyone.
import { execFileSync } from 'node:child_process';
import { chownSync, readFileSync } from 'node:fs';
import { ConfigError, SecurityError } from '@cinder/core';

export interface DropPrivilegesOptions {
  /** User name or numeric uid. Its primary group is used unless `group` is given. */
  user?: string | number | undefined;
  /** Group name or numeric gid. */
  group?: string | number | undefined;
  /**
   * Files handed to the target user and group before switching, e.g. the daemon's Unix socket: so
   * its mode grants access to that group, and the server can still remove it when it stops.
   * Linux abstract socket names (leading NUL) have no file and are skipped.
   */
  ownPaths?: readonly string[] | undefined;
}

export interface PrivilegeState {
  uid: number;
  gid: number;
  groups: number[];
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

interface GroupEntry {
  name: string;
  gid: number;
}

const NUMERIC = /^\d+$/;
const GETENT_TIMEOUT_MS = 5000;

function readDatabase(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n');
  } catch {
    return [];
  }
}

/** Looks `key` up in /etc/passwd or /etc/group, then through getent (NSS: LDAP, sssd…). */
function lookup(database: 'passwd' | 'group', key: string): string[] | null {
  const numeric = NUMERIC.test(key);
  for (const line of readDatabase(`/etc/${database}`)) {
    const fields = line.split(':');
    if (fields.length < 4) continue;
    if (numeric ? fields[2] === key : fields[0] === key) return fields;
  }
  try {
    const out = execFileSync('getent', [database, key], {
      encoding: 'utf8',
      timeout: GETENT_TIMEOUT_MS,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const fields = out.split('\n')[0]!.split(':');
    return fields.length >= 4 ? fields : null;
  } catch {
    return null;
  }
}

/** Resolves a user name or uid through the passwd database. Unknown names are a ConfigError. */
export function resolveUser(user: string | number): PasswdEntry | null {
  const key = String(user);
  if (key === '' || key.includes(':') || key.includes('\n'))
    throw new ConfigError(`invalid user name ${JSON.stringify(key)}`);
  const fields = lookup('passwd', key);
  if (fields === null) {
    if (NUMERIC.test(key)) return null;
    throw new ConfigError(`unknown user '${key}'`);
  }
  return { name: fields[0]!, uid: Number(fields[2]), gid: Number(fields[3]) };
}

/** Resolves a group name or gid through the group database. Unknown names are a ConfigError. */
export function resolveGroup(group: string | number): GroupEntry | null {
  const key = String(group);
  if (key === '' || key.includes(':') || key.includes('\n'))
    throw new ConfigError(`invalid group name ${JSON.stringify(key)}`);
  const fields = lookup('group', key);
  if (fields === null) {
    if (NUMERIC.test(key)) return null;
    throw new ConfigError(`unknown group '${key}'`);
  }
  return { name: fields[0]!, gid: Number(fields[2]) };
}

function current(): PrivilegeState {
  return { uid: process.geteuid!(), gid: process.getegid!(), groups: process.getgroups!() };
}

/**
 * Switches the process to `user` (and its primary group, or `group`), dropping every
 * supplementary group, then checks that root cannot be regained. Only root can do this; a process
 * that already runs as the target ids succeeds without changing anything, any other non-root
 * process gets a SecurityError. Nothing to do when neither option is given.
 */
export function dropPrivileges(options: DropPrivilegesOptions): PrivilegeState {
  const { user, group } = options;
  if (user === undefined && group === undefined) {
    return process.geteuid ? current() : { uid: -1, gid: -1, groups: [] };
  }
  if (!process.geteuid || !process.setuid || !process.setgid || !process.setgroups) {
    throw new SecurityError(`dropping privileges is not supported on ${process.platform}`);
  }
  const userEntry = user === undefined ? null : resolveUser(user);
  const groupEntry = group === undefined ? null : resolveGroup(group);
  const uid = user === undefined ? process.geteuid() : (userEntry?.uid ?? Number(user));
  const gid = group !== undefined ? (groupEntry?.gid ?? Number(group)) : userEntry?.gid;
  if (gid === undefined) {
    throw new ConfigError(
      `user ${String(user)} has no passwd entry, so its group is unknown: set the group too`,
    );
  }

  const before = current();
  if (before.uid !== 0) {
    if (before.uid === uid && before.gid === gid) return before;
    throw new SecurityError(
      `cannot switch to ${user === undefined ? `group ${String(group)}` : `user ${String(user)}`}: ` +
        `only root can drop privileges (running as uid ${before.uid})`,
    );
  }
  for (const path of options.ownPaths ?? []) {
    if (path.startsWith('\0')) continue;
    try {
      chownSync(path, uid, gid);
    } catch (err) {
      throw new SecurityError(`cannot hand ${path} to uid ${uid} gid ${gid}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  try {
    // Supplementary groups first and the uid last: after setuid nothing else may be changed. The
    // user's other groups are dropped too (no initgroups): a server needs its primary group only.
    process.setgroups([gid]);
    process.setgid(gid);
    process.setuid(uid);
  } catch (err) {
    throw new SecurityError(
      `dropping privileges to uid ${uid} gid ${gid} failed: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  if (uid !== 0) {
    let regained = false;
    try {
      process.setuid(0);
      regained = true;
    } catch {
      // Expected: an unprivileged process cannot become root again.
    }
    if (regained) throw new SecurityError('privileges could be regained after dropping them');
  }
  return current();
}
