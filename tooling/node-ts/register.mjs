// Registers the TypeScript hooks for this process: `node --conditions=@cinder/source --import <this> file.ts`.
import { register } from 'node:module';

register(new URL('./hooks.mjs', import.meta.url));
