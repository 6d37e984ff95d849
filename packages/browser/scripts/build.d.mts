import type { BuildResult } from 'esbuild';

/** Builds one browser bundle of the Cinder client (see build.mjs). */
export function buildBrowserBundle(options: {
  outfile: string;
  serializers?: 'all' | 'cbor';
  minify?: boolean;
  entry?: string;
}): Promise<BuildResult<{ metafile: true }>>;
