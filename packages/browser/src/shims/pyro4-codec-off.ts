// The cbor-only browser build: Pyro4 has no cbor serializer, so protocol 48 frames can never carry
// a call there; their codec is left out and a 48 frame is a ProtocolError that says so.
import { ProtocolError } from '@cinder/core';

function refuse(): never {
  throw new ProtocolError(
    'protocol 48 (Pyro4) is not in the cbor-only browser build: Pyro4 has no cbor serializer',
  );
}

export const encode48 = (): Uint8Array[] => refuse();
export const decodeBody48 = (): never => refuse();
