// The marshal serializer runs the shared compliance suite.
import { createSerializers } from '../src/index.js';
import { serializerCompliance } from './compliance.js';

serializerCompliance('marshal', (options) => createSerializers(options).byName('marshal')!);
