// Public surface of @cinder/bench.
export {};
