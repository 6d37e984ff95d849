// The cbor serializer runs the shared compliance suite.
import { createSerializers } from '../src/index.js';
import { serializerCompliance } from './compliance.js';

serializerCompliance('cbor', (options) => createSerializers(options).byName('cbor')!);
