// Public surface of @cinder/bench: the shape of its JSON results and the names of its scenarios and
// figures, for tools that read or compare bench runs. The bench itself is the `bench` script.
export type { BenchJson, Ratios, ResultEntry, RunMeta } from './report.js';
export type { SkipRecord } from './runner.js';
export {
  type FigureDef,
  figures,
  type Mode,
  type ScenarioId,
  scenarioIds,
  TRANSFER_TOTAL_BYTES,
  type TransportId,
  transferSizes,
  transportIds,
} from './scenarios.js';
export type { SystemId } from './system.js';
