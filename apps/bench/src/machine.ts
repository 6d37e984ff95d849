// Run metadata: which machine and software produced the figures, so a JSON result can be judged
// (and compared) later without guessing.

import { arch, cpus, platform, release, totalmem } from 'node:os';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryMiB: number;
  os: string;
  arch: string;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryMiB: Math.round(totalmem() / 1024 / 1024),
    os: `${platform()} ${release()}`,
    arch: arch(),
  };
}
