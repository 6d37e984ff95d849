// Public surface of @cinder/echoserver.
export {};
