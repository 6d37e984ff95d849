// `@cinder/core/config-schema`: the whole configuration as one zod schema (every item with its
// default; unknown keys refused). @cinder/core itself validates without loading zod until a value
// needs it (config.ts); this entry point imports zod, so only those who want the schema pay for it.
import { z } from 'zod';
import { buildConfigShape } from './config-spec.js';

/** Every setting with its default. Unknown keys are refused. */
export const configSchema = z.strictObject(buildConfigShape(z));
