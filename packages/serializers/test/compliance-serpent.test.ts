// The serpent serializer runs the shared compliance suite.
import { createSerializers } from '../src/index.js';
import { serializerCompliance } from './compliance.js';

serializerCompliance('serpent', (options) => createSerializers(options).byName('serpent')!);
