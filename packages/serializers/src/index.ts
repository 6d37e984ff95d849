// Public surface of @cinder/serializers.
export * from './pyvalues.js';
export * from './serializer.js';
