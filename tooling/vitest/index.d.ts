import type { Plugin, UserWorkspaceConfig } from 'vitest/config';

export declare const sourceCondition: '@cinder/source';
export declare function decoratorsPlugin(): Plugin;
export declare function cinderProject(name: string, extra?: UserWorkspaceConfig['test']): UserWorkspaceConfig;
