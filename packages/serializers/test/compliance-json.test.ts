// The json serializer runs the shared compliance suite.
import { createSerializers } from '../src/index.js';
import { serializerCompliance } from './compliance.js';

serializerCompliance('json', (options) => createSerializers(options).byName('json')!);
