// Public surface of @cinder/serializers.
export {};
