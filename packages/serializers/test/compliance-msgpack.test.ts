// The msgpack serializer runs the shared compliance suite.
import { createSerializers } from '../src/index.js';
import { serializerCompliance } from './compliance.js';

serializerCompliance('msgpack', (options) => createSerializers(options).byName('msgpack')!);
