// Public surface of @cinder/naming.
export {};
